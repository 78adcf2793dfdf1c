"""`homei jobs run|ls|show|cancel`: commands on systems, their output printed as it comes."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any

import aiohttp

from homei.cli.client import ApiClient, ApiError
from homei.cli.output import emit

COLUMNS = ("id", "name", "status", "created_by", "created_at", "next_run_at")
JOBS = "/api/v1/jobs"


async def _system_ids(client: ApiClient, names: str) -> list[str]:
    """The ids of the systems named (or given by id) in `a,b,c`."""
    listed = await client.request("GET", "/api/v1/systems?limit=500")
    by_name = {s["name"]: s["id"] for s in listed["systems"]}
    known = set(by_name.values())
    ids = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in by_name and name not in known:
            raise ApiError(404, "SYSTEM_NOT_FOUND", f"No system named '{name}'", {})
        ids.append(by_name.get(name, name))
    return ids


class _Printer:
    """Prints each system's output line by line, prefixed with the system's name."""

    def __init__(self, names: dict[str, str], prefix: bool) -> None:
        self._names = names
        self._prefix = prefix
        self._partial: dict[tuple[str, str], str] = {}

    def chunk(self, chunk: dict[str, Any]) -> None:
        key = (chunk["execution_id"], chunk["stream"])
        text = self._partial.pop(key, "") + chunk["text"]
        *lines, rest = text.split("\n")
        for line in lines:
            self._line(key, line)
        if rest:
            self._partial[key] = rest

    def flush(self, execution_id: str) -> None:
        for key in [k for k in self._partial if k[0] == execution_id]:
            self._line(key, self._partial.pop(key))

    def _line(self, key: tuple[str, str], line: str) -> None:
        out = sys.stdout if key[1] == "stdout" else sys.stderr
        label = f"[{self._names.get(key[0], key[0][:8])}] " if self._prefix else ""
        print(f"{label}{line}", file=out, flush=True)


async def _run(args: argparse.Namespace, client: ApiClient) -> int:
    command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not command:
        raise ApiError(400, "VALIDATION_ERROR", "Give the command after --", {})
    text = command[0] if len(command) == 1 else shlex.join(command)
    body: dict[str, Any] = {
        "name": args.name or text[:200],
        "command": text,
        "system_ids": await _system_ids(client, args.on),
    }
    options = {"schedule_at": args.at, "cron": args.cron, "timeout_seconds": args.timeout,
               "concurrency": args.concurrency}  # fmt: skip
    body.update({field: value for field, value in options.items() if value is not None})
    job = await client.request("POST", JOBS, json=body)
    if job["next_run_at"]:
        emit(job, as_json=args.json)
        return 0
    names = {e["id"]: e["system_name"] for e in job["executions"]}
    printer = _Printer(names, prefix=len(names) > 1 or not args.json)
    if not args.json:
        await _follow(client, job["id"], printer)
    job = await client.request("GET", f"{JOBS}/{job['id']}")
    if args.json:
        emit(job, as_json=True)
    else:
        for e in job["executions"]:
            detail = e["error_message"] or f"exit {e['exit_code']}"
            print(f"{e['system_name']}: {e['status']} ({detail})", file=sys.stderr)
    return 0 if job["status"] == "completed" else 1


async def _follow(client: ApiClient, job_id: str, printer: _Printer) -> None:
    """Print the job's output from `/ws/jobs/{id}` until it ends."""
    await client.request("GET", "/api/v1/auth/me")  # a fresh token before the socket opens
    url = client.url.replace("http", "ws", 1) + f"/ws/jobs/{job_id}"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, headers=client.auth_headers(), heartbeat=30) as ws,
    ):
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            event = json.loads(message.data)
            if event["type"] == "job:output":
                for chunk in event["data"]["chunks"]:
                    printer.chunk(chunk)
            elif event["type"] == "job:execution" and event["data"]["status"] != "running":
                printer.flush(event["data"]["execution_id"])


async def run(args: argparse.Namespace) -> int:
    """Dispatch one `homei jobs` subcommand."""
    async with ApiClient(args.url, timeout=None if args.jobs_command == "run" else 60) as client:
        if args.jobs_command == "run":
            return await _run(args, client)
        if args.jobs_command == "ls":
            query = f"?status={args.status}" if args.status else ""
            listed = await client.request("GET", f"{JOBS}{query}")
            emit(listed, as_json=args.json, columns=COLUMNS, rows_key="jobs")
            return 0
        if args.jobs_command == "show":
            job = await client.request("GET", f"{JOBS}/{args.id}")
            emit(job, as_json=True)
            return 0
        emit(await client.request("POST", f"{JOBS}/{args.id}/cancel"), as_json=args.json)
        return 0


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """The `jobs` command group."""
    jobs = commands.add_parser("jobs", help="run commands on systems")
    sub = jobs.add_subparsers(dest="jobs_command", required=True)
    run_ = sub.add_parser("run", parents=parents, help="run a command: jobs run --on A,B -- CMD")
    run_.add_argument("--on", required=True, metavar="SYS,SYS", help="system names or ids")
    run_.add_argument("--name")
    run_.add_argument("--at", metavar="TIME", help="run at this ISO 8601 time instead of now")
    run_.add_argument("--cron", metavar="EXPR", help="run at each time of this cron (UTC)")
    run_.add_argument("--timeout", type=float, metavar="SECONDS")
    run_.add_argument("--concurrency", type=int)
    run_.add_argument("cmd", nargs=argparse.REMAINDER, help="-- the command")
    ls = sub.add_parser("ls", parents=parents, help="list jobs")
    ls.add_argument("--status")
    show = sub.add_parser("show", parents=parents, help="a job with its executions")
    show.add_argument("id")
    cancel = sub.add_parser("cancel", parents=parents, help="stop a job")
    cancel.add_argument("id")
