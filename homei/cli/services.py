"""`homei services ...` and `homei images ...`: app services from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from homei.cli.client import ApiClient, ApiError
from homei.cli.output import emit, table
from homei.cli.update import POLL, ProgressBar, _chunks


async def _wait(client: ApiClient, task_id: str, label: str, *, quiet: bool) -> dict[str, Any]:
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


def _read_spec(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as err:
        raise ApiError(0, "NOT_FOUND", f"{path}: {err.strerror}", {}) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ApiError(0, "VALIDATION_ERROR", f"{path} is not JSON: {err}", {}) from None


async def _services(args: argparse.Namespace, client: ApiClient) -> int:
    command = args.services_command
    if command == "ls":
        listed = await client.request("GET", "/api/v1/services?limit=500")
        if args.json:
            emit(listed, as_json=True)
        else:
            rows = [{**s, "health": s["health"]["status"]} for s in listed["services"]]
            table(rows, ("name", "image", "status", "health", "enabled", "restarts"))
        return 0
    if command == "show":
        emit(await client.request("GET", f"/api/v1/services/{args.name}"), as_json=args.json)
        return 0
    if command in ("add", "update"):
        spec = await asyncio.to_thread(_read_spec, args.file)
        if command == "add":
            accepted = await client.request("POST", "/api/v1/services", json=spec)
        else:
            accepted = await client.request("PUT", f"/api/v1/services/{args.name}", json=spec)
        task = await _wait(client, accepted["taskId"], command, quiet=args.json)
        if args.json:
            emit(task, as_json=True)
        elif task["status"] == "completed":
            print(task["result"]["message"])
        else:
            print(f"{command} failed: {task['error']}", file=sys.stderr)
        return 0 if task["status"] == "completed" else 1
    if command == "rm":
        query = f"?force={str(args.force).lower()}&removeData={str(args.remove_data).lower()}"
        emit(
            await client.request("DELETE", f"/api/v1/services/{args.name}{query}"),
            as_json=args.json,
        )
        return 0
    if command == "logs":
        return await _logs(args, client)
    path = f"/api/v1/services/{args.name}/{command}"
    if command == "stop" and args.timeout is not None:
        path += f"?timeout={args.timeout}"
    emit(await client.request("POST", path), as_json=args.json)
    return 0


async def _logs(args: argparse.Namespace, client: ApiClient) -> int:
    query = f"tail={args.tail}&timestamps={str(args.timestamps).lower()}"
    if not args.follow:
        body = await client.request("GET", f"/api/v1/services/{args.name}/logs?{query}")
        if args.json:
            emit(body, as_json=True)
        for entry in [] if args.json else body["logs"]:
            stamp = f"{entry['timestamp']} " if entry["timestamp"] else ""
            print(f"{stamp}{entry['message']}")
        return 0
    await client.request("GET", "/api/v1/auth/me")  # a fresh token before streaming
    path = f"/api/v1/services/{args.name}/logs?{query}&follow=true"
    async with client.stream("GET", path) as response:
        if response.status >= 400:
            body = await response.json()
            error = body.get("error", {})
            raise ApiError(response.status, error.get("code", ""), error.get("message", ""), {})
        async for line in response.content:
            sys.stdout.write(line.decode(errors="replace"))
            sys.stdout.flush()
    return 0


async def _images(args: argparse.Namespace, client: ApiClient) -> int:
    if args.images_command == "ls":
        listed = await client.request("GET", "/api/v1/images")
        if args.json:
            emit(listed, as_json=True)
        else:
            table(
                [{**i, "tags": ",".join(i["tags"]), "id": i["id"][7:19]} for i in listed["images"]],
                ("id", "tags", "size", "created_at"),
            )
        return 0
    path = Path(args.file)
    try:
        size = (await asyncio.to_thread(path.stat)).st_size
    except OSError as err:
        raise ApiError(0, "NOT_FOUND", f"{path}: {err.strerror}", {}) from None
    await client.request("GET", "/api/v1/auth/me")  # refreshes an expired token first
    bar = ProgressBar("load ", size, enabled=not args.json)
    try:
        loaded = await client.request(
            "POST",
            "/api/v1/images/load",
            data=_chunks(path, bar),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )
    finally:
        bar.close()
    emit(loaded, as_json=args.json)
    return 0


async def run(args: argparse.Namespace) -> int:
    """Dispatch one `homei services` or `homei images` subcommand."""
    streaming = getattr(args, "follow", False) or args.command == "images"
    async with ApiClient(args.url, timeout=None if streaming else 120.0) as client:
        if args.command == "images":
            return await _images(args, client)
        return await _services(args, client)


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """The `services` and `images` command groups."""
    services = commands.add_parser("services", help="app services")
    sub = services.add_subparsers(dest="services_command", required=True)
    sub.add_parser("ls", parents=parents, help="every service, its state and health")
    for name, text in (
        ("show", "one service in full"),
        ("start", "start it after what it depends on"),
        ("restart", "restart it and what depends on it"),
    ):
        sub.add_parser(name, parents=parents, help=text).add_argument("name")
    stop = sub.add_parser("stop", parents=parents, help="stop it after what depends on it")
    stop.add_argument("name")
    stop.add_argument("--timeout", type=int, help="seconds before it is killed")
    add = sub.add_parser("add", parents=parents, help="install a service from a JSON spec")
    add.add_argument("-f", "--file", required=True, help="the spec (JSON), or - for stdin")
    update = sub.add_parser("update", parents=parents, help="change a service from a JSON spec")
    update.add_argument("name")
    update.add_argument("-f", "--file", required=True, help="the fields to change (JSON)")
    rm = sub.add_parser("rm", parents=parents, help="uninstall a service")
    rm.add_argument("name")
    rm.add_argument("--force", action="store_true", help="even if others depend on it")
    rm.add_argument("--remove-data", action="store_true", help="also its volumes and folder")
    logs = sub.add_parser("logs", parents=parents, help="its logs")
    logs.add_argument("name")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("--tail", type=int, default=100)
    logs.add_argument("--timestamps", action="store_true")

    images = commands.add_parser("images", help="container images")
    image_sub = images.add_subparsers(dest="images_command", required=True)
    image_sub.add_parser("ls", parents=parents, help="images on the device")
    load = image_sub.add_parser("load", parents=parents, help="load a `docker save` tarball")
    load.add_argument("file")
