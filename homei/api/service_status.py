"""Watching services: status, health, logs (also followed live) and resource metrics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from homei.api import log_follow
from homei.api.routing import endpoint
from homei.api.services import NAME_PARAM, NAME_REF
from homei.api.websockets import WebSocketHub
from homei.core.auth import Permission
from homei.monitor.service_samples import ServiceSampler
from homei.services.health import HealthMonitor
from homei.services.instance import HealthStatus, InstanceNotFound
from homei.services.manager import ServiceManager
from homei.services.views import ServiceViews, container_of, status_of


class LogQuery(msgspec.Struct):
    tail: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 100
    since: Annotated[int, msgspec.Meta(ge=0, description="Unix time")] | None = None
    timestamps: bool = True
    follow: bool = False


class MetricsQuery(msgspec.Struct):
    period: Literal["1h", "6h", "24h", "7d"] = "1h"
    resolution: Literal["1m", "5m", "1h"] = "1m"


class LogEntry(msgspec.Struct):
    container: str
    timestamp: str | None
    message: str
    stream: str


class ServiceLogs(msgspec.Struct):
    service: str
    logs: list[LogEntry]


class StatusOut(msgspec.Struct):
    service: str
    status: str
    health: str
    uptime: float | None
    restarts: int
    containers: list[dict[str, Any]]
    lastEvent: dict[str, Any] | None
    # The container runs with the configuration its active environment holds (003).
    config_match: bool | None = None


class ServiceHealthRow(msgspec.Struct):
    name: str
    status: str
    lastCheck: str | None
    responseTime: float | None
    error: str | None
    failures: int
    details: dict[str, Any]


class ServicesHealth(msgspec.Struct):
    status: str
    services: list[ServiceHealthRow]


class ServiceStatusApi:
    def __init__(
        self,
        services: ServiceManager,
        views: ServiceViews,
        monitor: HealthMonitor,
        sampler: ServiceSampler,
        hub: WebSocketHub,
    ) -> None:
        self._services = services
        self._views = views
        self._monitor = monitor
        self._sampler = sampler
        self._hub = hub

    async def _instance(self, name: str) -> None:
        """404 before a stream starts: the service, and its instance, must exist."""
        self._services.declared(name)
        if await self._views.instance(name) is None:
            raise InstanceNotFound(f"Service '{name}' has no container", {"service_name": name})

    @endpoint(
        "GET",
        "/api/v1/health/services",
        summary="Health of every service",
        tag="health",
        permission=Permission.READ,
        group="health",
        response=ServicesHealth,
    )
    async def health(self, request: web.Request) -> ServicesHealth:
        """`degraded` while any service that should run is unhealthy or stopped."""
        rows = self._monitor.summary()
        should_run = {n for n, r in self._services.store.all().items() if r.should_run}
        down = (HealthStatus.UNHEALTHY, HealthStatus.STOPPED)
        bad = [r for r in rows if r["name"] in should_run and r["status"] in down]
        return ServicesHealth(
            "degraded" if bad else "healthy", [msgspec.convert(r, ServiceHealthRow) for r in rows]
        )

    @endpoint(
        "GET",
        f"/api/v1/services/{NAME_REF}/status",
        summary="Service status",
        tag="services",
        permission=Permission.READ,
        group="services",
        response=StatusOut,
        path_params=NAME_PARAM,
        errors=(503,),
    )
    async def status(self, request: web.Request) -> StatusOut:
        """State, health, uptime, restarts and the container's resource use."""
        name = request.match_info["service_name"]
        declared = self._services.declared(name)
        instance = await self._views.instance(name)
        containers = container_of(instance)
        uptime = None
        if instance is not None and instance.running:
            uptime = round(instance.uptime or 0.0, 1)
            usage = await self._views.usage(name)
            containers[0].update(
                cpu=usage.cpu_percent, memory=usage.memory, restarts=instance.restart_count
            )
        health = self._monitor.get(name)
        last_event = None
        if instance is not None:
            when = instance.started_at if instance.running else instance.finished_at
            last_event = {"type": instance.status, "timestamp": when}
        return StatusOut(
            name,
            status_of(declared, instance, self._services.busy.get(name)),
            health.status,
            uptime,
            declared.restarts,
            containers,
            last_event,
            await self._services.config_match(declared, instance),
        )

    @endpoint(
        "GET",
        f"/api/v1/services/{NAME_REF}/logs",
        summary="Service logs",
        tag="services",
        permission=Permission.CONTROL,
        group="services",
        query=LogQuery,
        response=ServiceLogs,
        path_params=NAME_PARAM,
        errors=(503,),
    )
    async def logs(self, request: web.Request, query: LogQuery) -> web.StreamResponse | ServiceLogs:
        """Both streams, each line with its time; `follow=true` streams lines as they come
        (`text/plain`), as does the WebSocket at `/ws/services/{name}/logs`."""
        name = request.match_info["service_name"]
        self._services.declared(name)
        if not query.follow:
            entries = await self._views.logs(
                name, tail=query.tail, since=query.since, timestamps=query.timestamps
            )
            return ServiceLogs(name, [LogEntry(**e) for e in entries])
        await self._instance(name)
        chunks = self._views.follow(
            name, tail=query.tail, since=query.since, timestamps=query.timestamps
        )
        return await log_follow.as_text(request, chunks)

    @endpoint(
        "GET",
        f"/api/v1/services/{NAME_REF}/metrics",
        summary="Service metrics",
        tag="services",
        permission=Permission.READ,
        group="services",
        query=MetricsQuery,
        path_params=NAME_PARAM,
    )
    async def metrics(self, request: web.Request, query: MetricsQuery) -> dict[str, Any]:
        """CPU, memory, network and disk over `period`, averaged per `resolution`, from the
        samples Homei takes of every running service."""
        name = request.match_info["service_name"]
        self._services.declared(name)
        return await self._sampler.metrics(name, query.period, query.resolution)

    @endpoint(
        "GET",
        f"/ws/services/{NAME_REF}/logs",
        summary="Follow service logs (WebSocket)",
        tag="services",
        permission=Permission.CONTROL,
        query=LogQuery,
        in_schema=False,
        token_in_query=True,
        websocket=str,
    )
    async def follow_logs(self, request: web.Request, query: LogQuery) -> web.WebSocketResponse:
        """One text message per line, at the client's pace."""
        name = request.match_info["service_name"]
        await self._instance(name)
        chunks = self._views.follow(
            name, tail=query.tail, since=query.since, timestamps=query.timestamps
        )
        return await log_follow.over_websocket(request, self._hub, log_follow.lines(chunks))
