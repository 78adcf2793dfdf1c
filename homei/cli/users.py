"""`homei user ...`: manage accounts directly in the device database (works offline)."""

from __future__ import annotations

import argparse
import getpass
import sys

from homei.cli.output import emit
from homei.core import accounts as accounts_schema
from homei.core.accounts import Accounts, User
from homei.core.auth import Role, TokenIssuer, load_or_create_secret
from homei.core.store import Store
from homei.settings import Settings


def read_password(args: argparse.Namespace, prompt: str = "Password: ") -> str:
    """From stdin with `--password-stdin`, else asked twice on the terminal."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != first:
        raise SystemExit("homei: passwords do not match")
    return first


def _user_dict(user: User) -> dict[str, str]:
    return {
        "id": user.id,
        "username": user.username,
        "role": str(user.role),
        "created": user.created,
        "updated": user.updated,
    }


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Dispatch one `homei user` subcommand."""
    # The database may be in use by the daemon; SQLite's WAL and busy timeout let
    # both write safely, and the daemon sees the change within a second.
    store = await Store.open(settings.database_path, accounts_schema.MIGRATIONS)
    try:
        secret = load_or_create_secret(settings.secrets_dir / "jwt.key")
        accounts = Accounts(store, TokenIssuer(secret))
        if args.user_command == "list":
            users = [_user_dict(u) for u in await accounts.list_users()]
            emit(
                {"users": users},
                as_json=args.json,
                columns=("username", "role", "created"),
                rows_key="users",
            )
        elif args.user_command == "add":
            user = await accounts.add_user(args.username, read_password(args), Role(args.role))
            emit(_user_dict(user), as_json=args.json)
        elif args.user_command == "passwd":
            await accounts.get_user(args.username)
            user = await accounts.set_password(args.username, read_password(args, "New password: "))
            emit(_user_dict(user), as_json=args.json)
        elif args.user_command == "role":
            emit(
                _user_dict(await accounts.set_role(args.username, Role(args.role))),
                as_json=args.json,
            )
        elif args.user_command == "delete":
            await accounts.delete_user(args.username)
            emit({"status": "deleted", "username": args.username}, as_json=args.json)
        return 0
    finally:
        await store.close()


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """The `user` command group."""
    user = commands.add_parser("user", help="manage accounts (offline, on the device)")
    sub = user.add_subparsers(dest="user_command", required=True)
    sub.add_parser("list", help="list accounts", parents=parents)
    roles = [str(r) for r in Role if r is not Role.METRICS]
    add = sub.add_parser("add", parents=parents, help="create an account")
    add.add_argument("username")
    add.add_argument("--role", choices=roles, default="viewer")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    passwd = sub.add_parser(
        "passwd", parents=parents, help="set a password (revokes the user's tokens)"
    )
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    role = sub.add_parser("role", parents=parents, help="change a role")
    role.add_argument("username")
    role.add_argument("role", choices=roles)
    delete = sub.add_parser("delete", parents=parents, help="delete an account")
    delete.add_argument("username")
