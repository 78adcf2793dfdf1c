"""`homei alerts [--firing]` and `homei alerts ack ID`: the device's alerts."""

from __future__ import annotations

import argparse

from homei.cli.client import ApiClient
from homei.cli.output import emit

COLUMNS = ("id", "level", "state", "timestamp", "source", "message", "acknowledgedBy")


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """The `alerts` command."""
    alerts = commands.add_parser("alerts", help="the device's alerts", parents=parents)
    alerts.add_argument("action", nargs="?", choices=["ack"], help="ack: acknowledge one")
    alerts.add_argument("id", nargs="?", help="the alert to acknowledge")
    alerts.add_argument("--firing", action="store_true", help="only the alerts firing now")
    alerts.add_argument("--level", choices=["info", "warning", "error", "critical"])
    alerts.add_argument("--limit", type=int, default=100)


async def run(args: argparse.Namespace) -> int:
    """List alerts, or acknowledge one."""
    async with ApiClient(args.url, timeout=60.0) as client:
        if args.action == "ack":
            if not args.id:
                raise SystemExit("homei alerts ack: which alert? (an id from `homei alerts`)")
            alert = await client.request("POST", f"/api/v1/alerts/{args.id}/acknowledge")
            emit(alert, as_json=args.json)
            return 0
        query = f"?limit={args.limit}"
        if args.firing:
            query += "&state=firing"
        if args.level:
            query += f"&level={args.level}"
        body = await client.request("GET", f"/api/v1/alerts{query}")
        emit(body, as_json=args.json, columns=COLUMNS, rows_key="alerts")
        if not args.json and body["hasMore"]:
            print(f"({len(body['alerts'])} of {body['total']}; --limit for more)")
    return 0
