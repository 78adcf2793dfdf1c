"""`/metrics/current`, `/metrics/history` and `/ws/monitoring`: the device's figures in
002's shapes, live and over time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from homei.api.routing import endpoint
from homei.api.websockets import WebSocketHub, close
from homei.core.auth import Permission
from homei.core.clock import now_iso
from homei.core.errors import ValidationError
from homei.core.events import EventBus, SubscriptionClosed
from homei.monitor.overview import CurrentMetrics, DeviceFigures, Overview
from homei.monitor.sampler import DeviceSampler
from homei.monitor.timeline import MAX_POINTS, MetricsHistory, Timeline

_LOGGER = logging.getLogger(__name__)

_DURATION = re.compile(r"^([1-9][0-9]{0,5})([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A service's status changes, forwarded to monitoring clients as `status` messages.
STATUS_EVENTS = (
    "service:started",
    "service:stopped",
    "service:restarted",
    "service:health:changed",
)


class HistoryQuery(msgspec.Struct):
    start: Annotated[
        datetime | None, msgspec.Meta(description="ISO 8601; default one hour before `end`")
    ] = None
    end: Annotated[datetime | None, msgspec.Meta(description="ISO 8601; default now")] = None
    resolution: Annotated[
        str,
        msgspec.Meta(
            pattern=_DURATION.pattern,
            description="Point interval: a number and s, m, h or d (`5m`)",
        ),
    ] = "5m"
    metrics: Annotated[
        str,
        msgspec.Meta(description="Comma-separated metric names (`disk:/`, `net_rx:eth0`) to add"),
    ] = ""


class MonitoringMessage(msgspec.Struct):
    """`metrics` (the device's figures), `alert` (an alert changed) or `status` (a service's
    status changed); `event` names the event behind `alert` and `status`."""

    type: Literal["metrics", "alert", "status"]
    data: dict[str, Any]
    timestamp: str
    event: str | None = None


def _moment(moment: datetime | None, default: datetime) -> datetime:
    if moment is None:
        return default
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _seconds(resolution: str) -> int:
    match = _DURATION.match(resolution)
    assert match is not None  # the query model's pattern
    return int(match[1]) * _UNITS[match[2]]


class MonitoringApi:
    """The device's figures now, over time, and as they come."""

    def __init__(
        self,
        overview: Overview,
        timeline: Timeline,
        sampler: DeviceSampler,
        bus: EventBus,
        hub: WebSocketHub,
        heartbeat: float,
    ) -> None:
        self._overview = overview
        self._timeline = timeline
        self._sampler = sampler
        self._bus = bus
        self._hub = hub
        self._heartbeat = heartbeat

    @endpoint(
        "GET",
        "/api/v1/metrics/current",
        summary="Current device metrics",
        tag="monitoring",
        permission=Permission.READ,
        response=CurrentMetrics,
    )
    async def current(self, request: web.Request) -> CurrentMetrics:
        """CPU, memory, the data directory's disk, network, filesystems, temperatures, GPU and
        power rails, each with its status against the thresholds."""
        return CurrentMetrics(now_iso(), await self._overview.current())

    @endpoint(
        "GET",
        "/api/v1/metrics/history",
        summary="Device metrics over time",
        tag="monitoring",
        permission=Permission.READ,
        query=HistoryQuery,
        response=MetricsHistory,
    )
    async def history(self, request: web.Request, query: HistoryQuery) -> MetricsHistory:
        """One point per `resolution` between `start` and `end`, from the coarsest tier that has
        that resolution (raw samples, 1-minute or 1-hour rollups)."""
        end = _moment(query.end, datetime.now(UTC))
        start = _moment(query.start, end - timedelta(hours=1))
        step = _seconds(query.resolution)
        if start >= end:
            raise ValidationError(
                "query.start must be before query.end",
                {"fields": [{"path": "query.start", "message": "not before end"}]},
            )
        if (end - start).total_seconds() / step > MAX_POINTS:
            raise ValidationError(
                f"At most {MAX_POINTS} points: widen the resolution or narrow the range",
                {"fields": [{"path": "query.resolution", "message": "too many points"}]},
            )
        names = [n.strip() for n in query.metrics.split(",") if n.strip()]
        return await self._timeline.query(start, end, step, query.resolution, names[:64])

    @endpoint(
        "GET",
        "/ws/monitoring",
        summary="Device metrics, alerts and service status (WebSocket)",
        tag="monitoring",
        permission=Permission.READ,
        in_schema=False,
        token_in_query=True,
        websocket=MonitoringMessage,
    )
    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        """A `metrics` message per sample (never faster than the client reads), `alert` for
        every `alert:*` event and `status` when a service's status changes."""
        ws = web.WebSocketResponse(heartbeat=self._heartbeat, max_msg_size=64 * 1024)
        await ws.prepare(request)
        self._hub.add(ws)
        subscription = self._bus.subscribe(["alert:*", *STATUS_EVENTS])
        sending = asyncio.Lock()

        async def send(message: MonitoringMessage) -> None:
            async with sending:
                await ws.send_str(msgspec.json.encode(message).decode())

        async def metrics() -> None:
            await send(self._metrics_message(await self._overview.current()))
            while True:
                snapshot = await self._sampler.next_snapshot()
                await send(self._metrics_message(self._overview.figures(snapshot)))

        async def events() -> None:
            with contextlib.suppress(SubscriptionClosed):
                while True:
                    event = await subscription.get()
                    kind: Literal["alert", "status"] = (
                        "alert" if event.type.startswith("alert:") else "status"
                    )
                    await send(MonitoringMessage(kind, event.data, event.timestamp, event.type))

        async def read() -> None:
            async for message in ws:
                if message.type == WSMsgType.TEXT and message.data == "ping":
                    async with sending:
                        await ws.send_str("pong")
                elif message.type == WSMsgType.ERROR:
                    return

        tasks = [asyncio.create_task(job()) for job in (metrics, events, read)]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._bus.unsubscribe(subscription)
            self._hub.discard(ws)
        if not ws.closed:
            await close(ws, WSCloseCode.OK, b"")
        return ws

    @staticmethod
    def _metrics_message(figures: DeviceFigures) -> MonitoringMessage:
        return MonitoringMessage("metrics", msgspec.to_builtins(figures), now_iso())
