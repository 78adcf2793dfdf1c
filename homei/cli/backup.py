"""`homei backup ...`: backups from the command line, with progress bars."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from homei.cli.client import ApiClient, ApiError
from homei.cli.output import emit
from homei.cli.update import CHUNK, POLL, ProgressBar, _chunks

COLUMNS = ("name", "type", "size", "created_at", "services", "encrypted")


async def _follow(client: ApiClient, task_id: str, label: str, quiet: bool) -> dict[str, Any]:
    bar = ProgressBar(label, 100, enabled=not quiet)
    try:
        while True:
            task: dict[str, Any] = await client.request("GET", f"/api/v1/tasks/{task_id}")
            bar.show(task["progress"], task["message"])
            if task["status"] in ("completed", "failed", "cancelled"):
                return task
            await asyncio.sleep(POLL)
    finally:
        bar.close()


def _password(args: argparse.Namespace) -> str | None:
    if not args.encrypt:
        return None
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return os.environ.get("HOMEI_BACKUP_PASSWORD") or getpass.getpass("Backup password: ")


def _finish(args: argparse.Namespace, task: dict[str, Any], done: str) -> int:
    if args.json:
        emit(task, as_json=True)
    elif task["status"] == "completed":
        print(done)
    else:
        print(f"failed: {task['error']}", file=sys.stderr)
    return 0 if task["status"] == "completed" else 1


async def _create(args: argparse.Namespace, client: ApiClient) -> int:
    body: dict[str, Any] = {"include_data": not args.no_data}
    if args.name:
        body["name"] = args.name
    if args.services or args.homei:
        body.update(type="partial", services=args.services or [], homei=args.homei)
    if (password := _password(args)) is not None:
        body["password"] = password
    started = await client.request("POST", "/api/v1/backups", json=body)
    task = await _follow(client, started["taskId"], "backup ", args.json)
    return _finish(args, task, f"Created {started['name']}")


async def _restore(args: argparse.Namespace, client: ApiClient) -> int:
    body: dict[str, Any] = {}
    if args.services or args.homei:
        body.update(services=args.services or [], homei=args.homei)
    if (password := _password(args)) is not None:
        body["password"] = password
    started = await client.request("POST", f"/api/v1/backups/{args.name}/restore", json=body)
    task = await _follow(client, started["taskId"], "restore", args.json)
    return _finish(args, task, f"Restored {args.name}")


async def _download(args: argparse.Namespace, client: ApiClient) -> int:
    await client.request("GET", "/api/v1/auth/me")  # refreshes an expired token first
    target = Path(args.output or args.name)
    partial = target.with_name(f".{target.name}.part")
    async with client.stream("GET", f"/api/v1/backups/{args.name}/download") as response:
        if response.status != 200:
            error = (await response.json()).get("error", {})
            raise ApiError(response.status, error.get("code", "?"), error.get("message", ""), {})
        bar = ProgressBar("download", response.content_length or 1, enabled=not args.json)
        received = 0
        try:
            with partial.open("wb") as out:
                async for chunk in response.content.iter_chunked(CHUNK):
                    await asyncio.to_thread(out.write, chunk)
                    received += len(chunk)
                    bar.show(received, f"{received // 2**20} MiB")
                await asyncio.to_thread(os.fsync, out.fileno())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            bar.close()
    partial.rename(target)
    emit({"status": "downloaded", "file": str(target), "size": received}, as_json=args.json)
    return 0


async def _upload(args: argparse.Namespace, client: ApiClient) -> int:
    path = Path(args.file)
    size = (await asyncio.to_thread(path.stat)).st_size
    await client.request("GET", "/api/v1/auth/me")
    bar = ProgressBar("upload ", size, enabled=not args.json)
    try:
        stored = await client.request(
            "POST",
            f"/api/v1/backups/upload?filename={path.name}",
            data=_chunks(path, bar),
            headers={"Content-Type": "application/x-tar", "Content-Length": str(size)},
        )
    finally:
        bar.close()
    emit(stored, as_json=args.json)
    return 0


async def run(args: argparse.Namespace) -> int:
    """Dispatch one `homei backup` subcommand."""
    command = args.backup_command
    timeout = 60.0 if command in ("ls", "rm") else None
    async with ApiClient(args.url, timeout=timeout) as client:
        if command == "ls":
            body = await client.request("GET", "/api/v1/backups")
            for backup in body["backups"]:
                backup["services"] = ",".join(backup["services"])
            emit(body, as_json=args.json, columns=COLUMNS, rows_key="backups")
            return 0
        if command == "rm":
            emit(await client.request("DELETE", f"/api/v1/backups/{args.name}"), as_json=args.json)
            return 0
        handler = {"create": _create, "restore": _restore, "download": _download,
                   "upload": _upload}[command]  # fmt: skip
        return await handler(args, client)


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """The `backup` command group."""
    backup = commands.add_parser("backup", help="backups and restores")
    sub = backup.add_subparsers(dest="backup_command", required=True)
    sub.add_parser("ls", parents=parents, help="list backups")
    secret = argparse.ArgumentParser(add_help=False)
    secret.add_argument(
        "--encrypt",
        action="store_true",
        help="use a password (asked, $HOMEI_BACKUP_PASSWORD or --password-stdin)",
    )
    secret.add_argument("--password-stdin", action="store_true")
    chosen = argparse.ArgumentParser(add_help=False)
    chosen.add_argument("--service", dest="services", action="append", help="only this service")
    chosen.add_argument("--homei", action="store_true", help="Homei's database and settings")
    create = sub.add_parser("create", parents=[*parents, secret, chosen], help="make a backup")
    create.add_argument("name", nargs="?")
    create.add_argument("--no-data", action="store_true", help="leave volumes out")
    restore = sub.add_parser("restore", parents=[*parents, secret, chosen], help="restore one")
    restore.add_argument("name")
    rm = sub.add_parser("rm", parents=parents, help="delete a backup")
    rm.add_argument("name")
    download = sub.add_parser("download", parents=parents, help="save a backup to a file")
    download.add_argument("name")
    download.add_argument("--output", "-o")
    upload = sub.add_parser("upload", parents=parents, help="send a backup file to the device")
    upload.add_argument("file")
