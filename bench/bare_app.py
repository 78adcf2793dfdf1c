"""The anchor for `bench_core.py`: the smallest useful aiohttp server.

One route, `GET /json`, returning a small JSON object; no access log. Once its
site is listening it sends `READY=1` to `$NOTIFY_SOCKET`, the same signal Homei
sends, so both are timed the same way. It stops cleanly on SIGTERM or SIGINT.

    python bench/bare_app.py --port 8080
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket

from aiohttp import web


async def handle_json(request: web.Request) -> web.Response:
    """A small JSON object, about the size of Homei's empty task list."""
    return web.json_response({"status": "ok", "items": [], "total": 0})


def sd_notify(message: str) -> None:
    """Send one datagram to `$NOTIFY_SOCKET`, if set (`@` means the abstract namespace)."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), address)


async def serve(host: str, port: int) -> None:
    """Listen until SIGTERM or SIGINT, announcing readiness once the socket is bound."""
    app = web.Application()
    app.router.add_get("/json", handle_json)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        sd_notify("READY=1\nSTATUS=serving")
        await stop.wait()
        sd_notify("STOPPING=1")
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
