"""`homei config ...`: the device configuration, and services' configurations and secrets."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from homei.cli.backup import _follow
from homei.cli.client import ApiClient
from homei.cli.output import emit, fail


def _value(text: str) -> Any:
    """`5`, `true` or `[1, 2]` as JSON; anything else as the string it is."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _pairs(items: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(fail(f"expected KEY=VALUE, got '{item}'", 2))
        pairs.append((key, value))
    return pairs


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, text in pairs:
        *parents, leaf = key.split(".")
        table = nested
        for part in parents:
            table = table.setdefault(part, {})
        table[leaf] = _value(text)
    return nested


async def _device(args: argparse.Namespace, client: ApiClient) -> int:
    current = await client.request("GET", "/api/v1/config")
    if not args.pairs:
        emit(current, as_json=args.json)
        return 0
    change = _nest(_pairs(args.pairs))
    body: dict[str, Any] = {}
    for name in ("domain", "media_dir", "downloads_dir"):
        if name in change:
            body[name] = change.pop(name)
    if "variables" in change:  # one variable set (or removed with an empty value) of the map
        given = change.pop("variables")
        merged = {**current["variables"], **{k: str(v) for k, v in given.items()}}
        body["variables"] = {k: v for k, v in merged.items() if v != ""}
    if change:
        body["orchestrator"] = change
    emit(await client.request("PUT", "/api/v1/config", json=body), as_json=args.json)
    return 0


def _path(service: str, *rest: str, **query: Any) -> str:
    parts = "/".join(quote(part, safe="") for part in (service, *rest))
    given = {k: v for k, v in query.items() if v not in (None, False)}
    return f"/api/v1/config/{parts}" + (f"?{urlencode(given)}" if given else "")


async def _get(args: argparse.Namespace, client: ApiClient) -> int:
    path = _path(args.service, environment=args.environment, includeSecrets=args.secrets and "true")
    emit(await client.request("GET", path), as_json=args.json)
    return 0


async def _set(args: argparse.Namespace, client: ApiClient) -> int:
    path = _path(args.service, environment=args.environment, includeSecrets="true")
    current = await client.request("GET", path)
    variables = {**current["variables"], **dict(_pairs(args.pairs))}
    secrets = {**current["secrets"], **dict(_pairs(args.secret or []))}
    body = {"environment": current["environment"], "variables": variables, "secrets": secrets}
    written = await client.request("PUT", _path(args.service), json=body)
    emit(written, as_json=args.json)
    return 0


async def _export(args: argparse.Namespace, client: ApiClient) -> int:
    path = _path(
        args.service, "export", format=args.format, environment=args.environment,
        includeSecrets=args.secrets and "true",
    )  # fmt: skip
    text = await client.request("GET", path)
    if args.output:
        await asyncio.to_thread(Path(args.output).write_text, text)
    else:
        sys.stdout.write(text)
    return 0


async def _import(args: argparse.Namespace, client: ApiClient) -> int:
    source = sys.stdin.read if args.file == "-" else Path(args.file).read_text
    data = await asyncio.to_thread(source)
    form = args.format or {".yaml": "yaml", ".yml": "yaml", ".json": "json"}.get(
        Path(args.file).suffix, "env"
    )
    body = {"format": form, "data": data}
    if args.environment:
        body["environment"] = args.environment
    emit(await client.request("POST", _path(args.service, "import"), json=body), as_json=args.json)
    return 0


async def _rotate(args: argparse.Namespace, client: ApiClient) -> int:
    body: dict[str, Any] = {}
    if args.environment:
        body["environment"] = args.environment
    if args.value_stdin:
        body["value"] = sys.stdin.readline().rstrip("\n")
    if args.every is not None:
        body = {"intervalDays": args.every, **body}
        path = _path(args.service, "secrets", args.key, "schedule")
    else:
        path = _path(args.service, "secrets", args.key, "rotate")
    emit(await client.request("POST", path, json=body), as_json=args.json)
    return 0


async def _reload(args: argparse.Namespace, client: ApiClient) -> int:
    started = await client.request("POST", _path(args.service, "reload"))
    task = await _follow(client, started["taskId"], "reload ", args.json)
    if args.json:
        emit(task, as_json=True)
    elif task["status"] == "completed":
        print(f"Reloaded {args.service} ({task['result']['method']})")
    else:
        print(f"failed: {task['error']}", file=sys.stderr)
    return 0 if task["status"] == "completed" else 1


HANDLERS = {
    "device": _device, "get": _get, "set": _set, "export": _export, "import": _import,
    "rotate": _rotate, "reload": _reload,
}  # fmt: skip


async def run(args: argparse.Namespace) -> int:
    """Dispatch one `homei config` subcommand."""
    async with ApiClient(args.url) as client:
        return await HANDLERS[args.config_command](args, client)


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """The `config` command group."""
    config = commands.add_parser("config", help="device and service configuration")
    sub = config.add_subparsers(dest="config_command", required=True)
    device = sub.add_parser(
        "device", parents=parents, help="show the device configuration, or set KEY=VALUE ones"
    )
    device.add_argument(
        "pairs", nargs="*", metavar="KEY=VALUE",
        help="log_level=debug, rate_limits.anonymous=20, domain=..., variables.NAME=...",
    )  # fmt: skip
    env = argparse.ArgumentParser(add_help=False)
    env.add_argument("--environment", "-e", help="default: the service's active one")
    get = sub.add_parser("get", parents=[*parents, env], help="a service's configuration")
    get.add_argument("service")
    get.add_argument("--secrets", action="store_true", help="show the secrets' values (admin)")
    put = sub.add_parser("set", parents=[*parents, env], help="set a service's variables")
    put.add_argument("service")
    put.add_argument("pairs", nargs="*", metavar="NAME=VALUE")
    put.add_argument("--secret", action="append", metavar="NAME=VALUE", help="set a secret")
    export = sub.add_parser("export", parents=[*parents, env], help="as env, yaml or json")
    export.add_argument("service")
    export.add_argument("--format", "-f", choices=["env", "yaml", "json"], default="env")
    export.add_argument("--secrets", action="store_true", help="with the secrets' values")
    export.add_argument("--output", "-o")
    imported = sub.add_parser("import", parents=[*parents, env], help="from a file (- : stdin)")
    imported.add_argument("service")
    imported.add_argument("file")
    imported.add_argument("--format", "-f", choices=["env", "yaml", "json"])
    rotate = sub.add_parser("rotate", parents=[*parents, env], help="rotate a secret")
    rotate.add_argument("service")
    rotate.add_argument("key")
    rotate.add_argument("--value-stdin", action="store_true", help="the new value, not made")
    rotate.add_argument("--every", type=float, metavar="DAYS", help="schedule it instead")
    reload = sub.add_parser("reload", parents=parents, help="reload a service's configuration")
    reload.add_argument("service")
