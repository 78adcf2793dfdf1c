"""`homei update ...`: OS updates from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from homei.cli.client import ApiClient, ApiError
from homei.cli.output import emit, table

CHUNK = 1024 * 1024
POLL = 0.5


class ProgressBar:
    """A one-line bar on stderr (nothing when stderr is not a terminal or with --json)."""

    def __init__(self, label: str, total: float, *, enabled: bool) -> None:
        self._label = label
        self._total = max(total, 1.0)
        self._enabled = enabled and sys.stderr.isatty()
        self._last = -1.0

    def show(self, done: float, note: str = "") -> None:
        percent = min(100.0, 100.0 * done / self._total)
        if not self._enabled or (percent - self._last < 0.5 and percent < 100):
            return
        self._last = percent
        filled = int(percent / 100 * 30)
        sys.stderr.write(
            f"\r{self._label} [{'#' * filled}{'.' * (30 - filled)}] {percent:5.1f}% {note[:40]:<40}"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self._enabled:
            sys.stderr.write("\n")


async def _chunks(path: Path, bar: ProgressBar) -> AsyncIterator[bytes]:
    sent = 0
    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            sent += len(chunk)
            bar.show(sent, f"{sent // 2**20} MiB")
            yield chunk


async def _install(args: argparse.Namespace, client: ApiClient) -> int:
    path = Path(args.file)
    try:
        size = (await asyncio.to_thread(path.stat)).st_size
    except OSError as err:
        raise ApiError(0, "NOT_FOUND", f"{path}: {err.strerror}", {}) from None
    await client.request("GET", "/api/v1/auth/me")  # refreshes an expired token first
    bar = ProgressBar("upload ", size, enabled=not args.json)
    try:
        stored = await client.request(
            "POST",
            f"/api/v1/update/bundles?filename={path.name}",
            data=_chunks(path, bar),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )
    finally:
        bar.close()
    started = await client.request(
        "POST", "/api/v1/update/install", json={"bundle_path": stored["name"]}
    )
    bar = ProgressBar("install", 100, enabled=not args.json)
    try:
        while True:
            task = await client.request("GET", f"/api/v1/tasks/{started['taskId']}")
            bar.show(task["progress"], task["message"])
            if task["status"] in ("completed", "failed", "cancelled"):
                break
            await asyncio.sleep(POLL)
    finally:
        bar.close()
    result: dict[str, Any] = {"bundle": stored, "task": task}
    if args.json:
        emit(result, as_json=True)
    elif task["status"] == "completed":
        print(
            f"Installed {task['result'].get('version') or path.name} into slot "
            f"{task['result'].get('slot')}; reboot to use it."
        )
    else:
        print(f"Install failed: {task['error']}", file=sys.stderr)
    return 0 if task["status"] == "completed" else 1


async def _status(args: argparse.Namespace, client: ApiClient) -> int:
    status = await client.request("GET", "/api/v1/update/status")
    if args.json:
        emit(status, as_json=True)
        return 0
    print(
        f"compatible {status['compatible']}, booted from {status['bootSlot']} "
        f"({status['booted']}), next boot {status['primary']}, RAUC {status['operation']}"
    )
    if status["lastError"]:
        print(f"last error: {status['lastError']}")
    table(
        [{**slot, "installed": slot["installed"]["timestamp"]} for slot in status["slots"]],
        ("name", "bootname", "state", "boot_status", "bundle_version", "installed"),
    )
    if status["history"]:
        print()
        table(status["history"], ("started", "to_version", "to_slot", "result", "message"))
    return 0


async def _wait_gate(args: argparse.Namespace) -> int:
    """Wait for the running daemon's boot health gate; 0 when this boot may be kept."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    state, problem = "checking", "no answer yet"
    async with ApiClient(args.url, credentials=None, timeout=10.0) as client:
        while loop.time() < deadline:
            try:
                state = (await client.request("GET", "/api/v1/update/gate"))["state"]
            except (ApiError, aiohttp.ClientError, TimeoutError) as err:
                problem = str(err) or type(err).__name__  # not serving yet: keep waiting
            else:
                if state != "checking":
                    break
            await asyncio.sleep(1.0)
    if args.json:
        emit({"state": state}, as_json=True)
    if state in ("good", "none", "rolled_back"):
        print(f"Boot health gate: {state}")
        return 0
    reason = problem if state == "checking" else state
    print(f"Boot health gate: {reason}; this boot is not complete", file=sys.stderr)
    return 1


async def run(args: argparse.Namespace) -> int:
    """Dispatch one `homei update` subcommand."""
    if args.update_command == "wait-gate":
        return await _wait_gate(args)
    timeout = None if args.update_command == "install" else 60.0
    async with ApiClient(args.url, timeout=timeout) as client:
        if args.update_command == "status":
            return await _status(args, client)
        if args.update_command == "install":
            return await _install(args, client)
        body = {"slot": args.slot}
        result = await client.request("POST", f"/api/v1/update/{args.update_command}", json=body)
        emit(result, as_json=args.json)
        return 0


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """The `update` command group."""
    update = commands.add_parser("update", help="OS updates through RAUC")
    sub = update.add_subparsers(dest="update_command", required=True)
    sub.add_parser("status", parents=parents, help="slots, booted slot, history")
    install = sub.add_parser(
        "install", parents=parents, help="upload a bundle and install it, showing progress"
    )
    install.add_argument("file")
    wait = sub.add_parser(
        "wait-gate",
        parents=parents,
        help="wait for the boot health gate (boot-complete.target); exit 1 unless it passed",
    )
    wait.add_argument("--timeout", type=float, default=300.0, help="seconds (default 300)")
    for state in ("good", "bad", "active"):
        mark = sub.add_parser(f"mark-{state}", parents=parents, help=f"mark a slot {state}")
        mark.add_argument(
            "slot", nargs="?", default="booted", help="booted (default), other, or a slot name"
        )
