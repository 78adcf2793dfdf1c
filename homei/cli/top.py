"""`homei top`: the device's figures, refreshed in place (`--once` prints them a single time)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from homei.cli.client import ApiClient
from homei.cli.output import emit

CLEAR = "\x1b[H\x1b[2J"


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """The `top` command."""
    top = commands.add_parser("top", parents=parents, help="the device's figures, refreshing")
    top.add_argument("--once", action="store_true", help="print once and exit (for scripts)")
    top.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")


def _rate(bytes_per_second: float) -> str:
    for unit in ("B/s", "KB/s", "MB/s"):
        if bytes_per_second < 1024:
            return f"{bytes_per_second:.1f} {unit}"
        bytes_per_second /= 1024
    return f"{bytes_per_second:.1f} GB/s"


def render(figures: dict[str, Any], timestamp: str) -> str:
    """The figures as a few lines of text."""
    cpu, memory, disk = figures["cpu"], figures["memory"], figures["disk"]
    lines = [f"{timestamp}  status {figures['status']}"]
    temperature = f"  {cpu['temperature']:.1f} C" if cpu["temperature"] is not None else ""
    cores = " ".join(f"{core:.0f}" for core in cpu["cores"])
    load = " ".join(f"{x:.2f}" for x in cpu["load"])
    lines.append(
        f"CPU    {cpu['usage']:5.1f}% {cpu['status']:<8} cores {cores}  load {load}{temperature}"
    )
    lines.append(
        f"Memory {memory['usage']:5.1f}% {memory['status']:<8} {memory['used']:.2f} of "
        f"{memory['total']:.2f} GB used, swap {memory['swap_usage']:.1f}%"
    )
    if disk is not None:
        lines.append(
            f"Disk   {disk['usage']:5.1f}% {disk['status']:<8} {disk['mountpoint']}: "
            f"{disk['free']:.1f} GB free, inodes {disk['inodes_usage']:.1f}%"
        )
    for fs in figures["filesystems"]:
        if disk is None or fs["mountpoint"] != disk["mountpoint"]:
            lines.append(f"       {fs['usage']:5.1f}% {fs['status']:<8} {fs['mountpoint']}")
    for interface in figures["network"]["interfaces"]:
        lines.append(
            f"Net    {interface['device']:<10} in {_rate(interface['rx_rate']):>11}"
            f"  out {_rate(interface['tx_rate']):>11}"
        )
    for zone, celsius in figures["temperatures"].items():
        lines.append(f"Temp   {zone:<16} {celsius:.1f} C")
    if figures["gpu_load"] is not None:
        lines.append(f"GPU    {figures['gpu_load']:5.1f}%")
    for rail, watts in figures["power"].items():
        lines.append(f"Power  {rail:<16} {watts:.2f} W")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    """Print the figures once, or every `--interval` seconds until interrupted."""
    async with ApiClient(args.url) as client:
        while True:
            body = await client.request("GET", "/api/v1/metrics/current")
            if args.json:
                emit(body, as_json=True)
            else:
                text = render(body["metrics"], body["timestamp"])
                sys.stdout.write(text + "\n" if args.once else CLEAR + text + "\n")
                sys.stdout.flush()
            if args.once:
                return 0
            await asyncio.sleep(max(args.interval, 0.2))
