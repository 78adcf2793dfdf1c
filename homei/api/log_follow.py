"""Following a container's logs: as a `text/plain` stream or over a WebSocket, both moving at
the client's pace (while a write waits, nothing more is read from Docker)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import WSCloseCode, web

from homei.api.websockets import WebSocketHub, close
from homei.services.instance import RuntimeFailure


async def as_text(request: web.Request, chunks: AsyncIterator[bytes]) -> web.StreamResponse:
    """Whatever one read from Docker brought goes out in one write."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    async for data in chunks:
        await response.write(data)
    await response.write_eof()
    return response


async def lines(data: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """Whole lines (without their newline) from a byte stream."""
    rest = b""
    async for chunk in data:
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        for part in parts:
            yield part.decode(errors="replace")
    if rest:
        yield rest.decode(errors="replace")


async def over_websocket(
    request: web.Request, hub: WebSocketHub, lines: AsyncIterator[str]
) -> web.WebSocketResponse:
    """One text message per line; closed with 1000 when the container stops."""
    ws = web.WebSocketResponse(heartbeat=30.0)
    await ws.prepare(request)
    hub.add(ws)
    try:
        async for line in lines:
            if ws.closed:
                break
            await ws.send_str(line)
        await close(ws, WSCloseCode.OK, b"container stopped")
    except RuntimeFailure as err:
        await close(ws, WSCloseCode.INTERNAL_ERROR, err.message.encode()[:120])
    except (ConnectionResetError, aiohttp.ClientError) as err:
        await close(ws, WSCloseCode.INTERNAL_ERROR, str(err).encode()[:120])
    finally:
        hub.discard(ws)
    return ws
