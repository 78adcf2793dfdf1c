"""The `homei` command's full parser and the commands that talk to a running daemon."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

import homei
from homei.cli import alerts, backup, config, fleet, jobs, services, systems, top, update, users
from homei.cli import serve as serving
from homei.cli.client import ApiClient, ApiError, Credentials, credentials_path
from homei.cli.output import emit, fail
from homei.core.errors import HomeiError
from homei.settings import Settings
from homei.settings_layers import SettingsError, load_settings


def _parser() -> argparse.ArgumentParser:
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts"
    )
    remote = argparse.ArgumentParser(add_help=False, parents=[output])
    remote.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help="the daemon's URL (default: the one you logged in to)",
    )
    local = argparse.ArgumentParser(add_help=False)
    serving.local_options(local)

    parser = argparse.ArgumentParser(
        prog="homei", description="The Homei appliance daemon.", parents=[remote]
    )
    parser.add_argument("--version", action="version", version=f"homei {homei.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serving.add_options(commands.add_parser("serve", help="run the daemon", parents=[local]))

    login = commands.add_parser("login", help="log in and keep the token (0600)", parents=[remote])
    login.add_argument("--username", "-u", default="admin")
    login.add_argument("--password-stdin", action="store_true")
    commands.add_parser("logout", help="forget the saved token")
    commands.add_parser(
        "status", help="the daemon's health and the machine's figures", parents=[remote]
    )

    keys = commands.add_parser("apikey", help="API keys for automation")
    key_sub = keys.add_subparsers(dest="key_command", required=True)
    key_sub.add_parser("list", parents=[remote])
    create = key_sub.add_parser("create", parents=[remote])
    create.add_argument("name")
    create.add_argument("--role", choices=["admin", "operator", "viewer", "metrics"])
    revoke = key_sub.add_parser("revoke", parents=[remote])
    revoke.add_argument("id")

    tasks = commands.add_parser("tasks", help="background work", parents=[remote])
    tasks.add_argument("id", nargs="?", help="show one task")
    users.add_parser(commands, parents=[local, output])
    update.add_parser(commands, parents=[remote])
    backup.add_parser(commands, parents=[remote])
    config.add_parser(commands, parents=[remote])
    services.add_parsers(commands, parents=[remote])
    top.add_parser(commands, parents=[remote])
    systems.add_parser(commands, parents=[remote])
    jobs.add_parser(commands, parents=[remote])
    alerts.add_parser(commands, parents=[remote])
    fleet.add_parser(commands, parents=[remote])
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        config=args.config, data_dir=args.data_dir, listen=getattr(args, "listen", None)
    )


async def _login(args: argparse.Namespace) -> int:
    password = (
        sys.stdin.readline().rstrip("\n")
        if args.password_stdin
        else getpass.getpass(f"Password for {args.username}: ")
    )
    async with ApiClient(args.url, credentials=None) as client:
        body = await client.request(
            "POST", "/api/v1/auth/login", json={"username": args.username, "password": password}
        )
        path = Credentials(
            client.url, args.username, body["access_token"], body["refresh_token"]
        ).save()
    emit(
        {
            "status": "logged in",
            "username": args.username,
            "url": client.url,
            "credentials": str(path),
        },
        as_json=args.json,
    )
    return 0


async def _status(args: argparse.Namespace) -> int:
    async with ApiClient(args.url) as client:
        health = await client.request("GET", "/health/detailed")
        info = await client.request("GET", "/api/v1/system/info")
    if args.json:
        emit({"health": health, "system": info}, as_json=True)
        return 0 if health["status"] != "unhealthy" else 1
    print(
        f"Homei {health['version']} at {client.url}: {health['status']}, up {health['uptime']:.0f}s"
    )
    for name, dep in health["dependencies"].items():
        print(f"  {name:<12} {dep['status']:<10} {dep['message']}")
    memory, disk = info["memory"], info["disk"]
    print(
        f"{info['hostname']} ({info['architecture']}): {info['cpu_count']} CPUs, load "
        f"{' '.join(str(x) for x in info['load_average'])}, memory {memory['percent']}% used, "
        f"disk {disk['percent']}% used ({disk['free'] // 2**20} MiB free)"
    )
    return 0 if health["status"] != "unhealthy" else 1


async def _apikey(args: argparse.Namespace) -> int:
    async with ApiClient(args.url) as client:
        if args.key_command == "list":
            body = await client.request("GET", "/api/v1/auth/keys")
            emit(
                body,
                as_json=args.json,
                columns=("id", "name", "username", "role", "last_used"),
                rows_key="keys",
            )
        elif args.key_command == "create":
            payload = {"name": args.name, **({"role": args.role} if args.role else {})}
            emit(await client.request("POST", "/api/v1/auth/keys", json=payload), as_json=args.json)
        else:
            emit(await client.request("DELETE", f"/api/v1/auth/keys/{args.id}"), as_json=args.json)
    return 0


async def _tasks(args: argparse.Namespace) -> int:
    async with ApiClient(args.url) as client:
        if args.id:
            emit(await client.request("GET", f"/api/v1/tasks/{args.id}"), as_json=args.json)
        else:
            emit(
                await client.request("GET", "/api/v1/tasks"),
                as_json=args.json,
                columns=("id", "type", "service", "status", "progress", "created"),
                rows_key="tasks",
            )
    return 0


def run(argv: list[str]) -> int:
    """Parse `argv` with every command's parser and run what it names."""
    args = _parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    args.url = getattr(args, "url", None)
    try:
        if args.command == "serve":
            return serving.serve(_settings(args))
        if args.command == "user":
            return asyncio.run(users.run(args, _settings(args)))
        if args.command == "logout":
            credentials_path().unlink(missing_ok=True)
            return 0
        handler = {
            "login": _login,
            "status": _status,
            "apikey": _apikey,
            "tasks": _tasks,
            "update": update.run,
            "backup": backup.run,
            "config": config.run,
            "services": services.run,
            "images": services.run,
            "top": top.run,
            "systems": systems.run,
            "jobs": jobs.run,
            "alerts": alerts.run,
            "fleet": fleet.run,
        }
        return asyncio.run(handler[args.command](args))
    except SettingsError as err:
        return fail(str(err), 2)
    except ApiError as err:
        return fail(f"{err.code}: {err.message}")
    except HomeiError as err:
        return fail(f"{err.code}: {err.message}")
    except OSError as err:
        return fail(f"cannot reach the daemon: {err}")
    except KeyboardInterrupt:
        return 130
