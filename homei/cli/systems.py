"""`homei systems ls|add|test|rm|key`: the systems jobs run on, from the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from homei.cli.client import ApiClient, ApiError
from homei.cli.output import emit

COLUMNS = ("name", "hostname", "port", "system_type", "username", "auth_method",
           "health_status", "id")  # fmt: skip
SYSTEMS = "/api/v1/systems"


async def _resolve(client: ApiClient, name_or_id: str) -> dict[str, Any]:
    """The system called (or with the id) `name_or_id`."""
    listed = await client.request("GET", f"{SYSTEMS}?limit=500")
    for system in listed["systems"]:
        if name_or_id in (system["name"], system["id"]):
            found: dict[str, Any] = system
            return found
    raise ApiError(404, "SYSTEM_NOT_FOUND", f"No system named '{name_or_id}'", {})


async def _add(args: argparse.Namespace, client: ApiClient) -> int:
    body: dict[str, Any] = {
        "name": args.name,
        "hostname": args.hostname,
        "port": args.port,
        "username": args.user,
        "system_type": args.type,
        "operators_allowed": args.operators,
    }
    if args.description:
        body["description"] = args.description
    if args.password_stdin:
        body["password"] = sys.stdin.readline().rstrip("\n")
    made = await client.request("POST", SYSTEMS, json=body)
    if not args.password_stdin and not args.json:
        key = await client.request("GET", f"{SYSTEMS}/key")
        print(f"Add the device's key to {args.user}@{args.hostname}'s authorized_keys:")
        print(key["public_key"])
    emit(made, as_json=args.json)
    return 0


async def _test(args: argparse.Namespace, client: ApiClient) -> int:
    system = await _resolve(client, args.system)
    result = await client.request("POST", f"{SYSTEMS}/{system['id']}/test")
    if args.json:
        emit(result, as_json=True)
    elif result["success"]:
        info = result["system_info"]
        print(f"{system['name']}: ok in {result['response_time_ms']} ms")
        print(f"  whoami: {info['whoami_output']}\n  hostname: {info['hostname']}")
        print(f"  os: {info['os_info']}\n  host key: {result['host_key_fingerprint']}")
    else:
        error = result["error"]
        print(f"{system['name']}: {error['code']}: {error['message']}", file=sys.stderr)
    return 0 if result["success"] else 1


async def run(args: argparse.Namespace) -> int:
    """Dispatch one `homei systems` subcommand."""
    async with ApiClient(args.url, timeout=120.0) as client:
        command = args.systems_command
        if command == "ls":
            body = await client.request("GET", f"{SYSTEMS}?limit=500")
            emit(body, as_json=args.json, columns=COLUMNS, rows_key="systems")
            return 0
        if command == "rm":
            system = await _resolve(client, args.system)
            emit(await client.request("DELETE", f"{SYSTEMS}/{system['id']}"), as_json=args.json)
            return 0
        if command == "key":
            key = await client.request("GET", f"{SYSTEMS}/key")
            emit(key if args.json else key["public_key"], as_json=args.json)
            return 0
        return await {"add": _add, "test": _test}[command](args, client)


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """The `systems` command group."""
    systems = commands.add_parser("systems", help="systems that jobs run on over SSH")
    sub = systems.add_subparsers(dest="systems_command", required=True)
    sub.add_parser("ls", parents=parents, help="list systems")
    add = sub.add_parser("add", parents=parents, help="register a system")
    add.add_argument("name")
    add.add_argument("hostname")
    add.add_argument("--port", type=int, default=22)
    add.add_argument("--user", "-u", default="root")
    add.add_argument("--type", choices=["linux", "windows"], default="linux")
    add.add_argument("--description")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="log in with a password read from stdin (default: the device's key)",
    )
    add.add_argument("--operators", action="store_true", help="operators may run jobs on it")
    test = sub.add_parser("test", parents=parents, help="log in and show what the system is")
    test.add_argument("system", help="name or id")
    rm = sub.add_parser("rm", parents=parents, help="forget a system")
    rm.add_argument("system", help="name or id")
    sub.add_parser("key", parents=parents, help="the device's SSH public key")
