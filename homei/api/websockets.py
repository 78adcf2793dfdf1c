"""Bookkeeping for open WebSockets, so a shutdown can close every one with 1001."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref

from aiohttp import WSCloseCode, web

_LOGGER = logging.getLogger(__name__)

CLOSE_TIMEOUT = 2.0


class WebSocketHub:
    """The set of WebSockets this daemon has open."""

    def __init__(self) -> None:
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    def add(self, ws: web.WebSocketResponse) -> None:
        """Track an accepted socket."""
        self._sockets.add(ws)

    def discard(self, ws: web.WebSocketResponse) -> None:
        """Stop tracking a socket."""
        self._sockets.discard(ws)

    @property
    def count(self) -> int:
        """How many sockets are open."""
        return len(self._sockets)

    async def close_all(
        self, code: int = WSCloseCode.GOING_AWAY, message: bytes = b"Homei is stopping"
    ) -> None:
        """Close every socket, forcing those whose peer does not answer."""
        sockets = list(self._sockets)
        if sockets:
            await asyncio.gather(*(close(ws, code, message) for ws in sockets))


async def close(ws: web.WebSocketResponse, code: int, message: bytes) -> None:
    """Close one socket within `CLOSE_TIMEOUT`, aborting the connection if the peer stalls."""
    if ws.closed:
        return
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await ws.close(code=code, message=message)
    except (TimeoutError, ConnectionError, RuntimeError) as err:
        _LOGGER.debug("Aborting a WebSocket that did not close: %s", err)
        with contextlib.suppress(Exception):
            writer = getattr(ws, "_writer", None)
            transport = getattr(writer, "transport", None)
            if transport is not None:
                transport.abort()
