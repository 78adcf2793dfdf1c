"""`homei fleet status`: the hawkBit DDI client's settings, last poll and actions."""

from __future__ import annotations

import argparse

from homei.cli.client import ApiClient
from homei.cli.output import emit

COLUMNS = ("id", "state", "version", "message", "updated")


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """The `fleet` command."""
    fleet = commands.add_parser("fleet", help="fleet updates from a hawkBit server")
    sub = fleet.add_subparsers(dest="fleet_command", required=True)
    sub.add_parser("status", parents=parents, help="settings, last poll, actions")


async def run(args: argparse.Namespace) -> int:
    """Show the fleet client's state."""
    async with ApiClient(args.url, timeout=60.0) as client:
        body = await client.request("GET", "/api/v1/fleet")
    if args.json:
        emit(body, as_json=True)
        return 0
    settings = body["settings"]
    state = "polling" if body["running"] else ("off" if not settings["enabled"] else "stopped")
    print(f"fleet: {state}  server: {settings['url'] or '-'}  tenant: {settings['tenant']}")
    print(f"controller: {body['controller_id'] or settings['controller_id'] or '-'}")
    print(f"last poll: {body['last_poll'] or 'never'}  next in: {body['next_poll_in'] or '-'}s")
    if body["last_error"]:
        print(f"last error: {body['last_error']}")
    for action in body["pending_confirmation"]:
        print(f"waiting for consent: action {action['id']} ({action['version']})")
    if body["recent"]:
        print()
        emit(body["recent"], as_json=False, columns=COLUMNS)
    return 0
