"""`/ws/events`: the live event stream, typed as in seeds 000 and 001."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from homei.api.middleware import identity_of
from homei.api.routing import endpoint
from homei.api.websockets import WebSocketHub, close
from homei.core.auth import Permission
from homei.core.clock import now_iso
from homei.core.event_types import EventMessage, EventName
from homei.core.events import EventBus, Subscription, SubscriptionClosed

_LOGGER = logging.getLogger(__name__)

TRY_AGAIN_LATER = 1013
MAX_PATTERNS = 32


class EventsQuery(msgspec.Struct):
    types: Annotated[
        str, msgspec.Meta(description="Comma-separated globs of event types, e.g. `service:*`")
    ] = "*"


class EventsApi:
    """Streams events to WebSocket clients, each through a bounded queue."""

    def __init__(self, bus: EventBus, hub: WebSocketHub, heartbeat: float) -> None:
        self._bus = bus
        self._hub = hub
        self._heartbeat = heartbeat

    @endpoint(
        "GET",
        "/ws/events",
        summary="Event stream (WebSocket)",
        tag="events",
        permission=Permission.READ,
        in_schema=False,
        token_in_query=True,
        query=EventsQuery,
        websocket=EventMessage,
    )
    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        """Every event, or those matching `?types=service:*,task:*` (comma-separated globs).
        The token goes in the Authorization header or the `token` query parameter. The first
        message is `connected`; a client sending `ping` gets `pong`; one that falls behind by
        a whole queue is closed with 1013."""
        identity = identity_of(request)
        patterns = [p.strip() for p in request.query.get("types", "*").split(",") if p.strip()]
        ws = web.WebSocketResponse(heartbeat=self._heartbeat, max_msg_size=64 * 1024)
        await ws.prepare(request)
        self._hub.add(ws)
        subscription = self._bus.subscribe(patterns[:MAX_PATTERNS] or ["*"])
        _LOGGER.info("Event stream opened by %s for %s", identity.username, ",".join(patterns))
        try:
            await ws.send_str(
                msgspec.json.encode(
                    {
                        "type": EventName.CONNECTED,
                        "data": {"patterns": list(subscription.patterns)},
                        "timestamp": now_iso(),
                        "seq": 0,
                    }
                ).decode()
            )
            await self._pump(ws, subscription)
        finally:
            self._bus.unsubscribe(subscription)
            self._hub.discard(ws)
        return ws

    async def _pump(self, ws: web.WebSocketResponse, subscription: Subscription) -> None:
        sender = asyncio.create_task(self._send(ws, subscription))
        reader = asyncio.create_task(self._read(ws))
        overflow = asyncio.create_task(subscription.closed.wait())
        try:
            await asyncio.wait({sender, reader, overflow}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sender, reader, overflow):
                task.cancel()
            for task in (sender, reader, overflow):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if subscription.overflowed:
            _LOGGER.warning("Closing a slow event-stream client (1013)")
            await close(ws, TRY_AGAIN_LATER, b"Client too slow; reconnect")
        elif not ws.closed:
            await close(ws, WSCloseCode.OK, b"")

    @staticmethod
    async def _send(ws: web.WebSocketResponse, subscription: Subscription) -> None:
        with contextlib.suppress(SubscriptionClosed):
            while True:
                event = await subscription.get()
                await ws.send_str(msgspec.json.encode(event.as_dict()).decode())

    @staticmethod
    async def _read(ws: web.WebSocketResponse) -> None:
        async for message in ws:
            if message.type == WSMsgType.TEXT and message.data == "ping":
                await ws.send_str("pong")
            elif message.type == WSMsgType.ERROR:
                return
