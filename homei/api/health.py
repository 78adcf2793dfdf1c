"""Health probes: `/health*` for monitors and systemd, `/api/v1/health/dependencies`."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

import homei
from homei.api.routing import endpoint
from homei.core.auth import Permission
from homei.core.clock import now_iso
from homei.core.errors import Unavailable
from homei.core.health import DependencyReport, Health, ServiceCounts


class ServiceCountsOut(msgspec.Struct):
    total: int
    healthy: int
    unhealthy: int
    stopped: int


class HealthSummary(msgspec.Struct):
    status: str
    version: str
    timestamp: str
    uptime: float
    services: ServiceCountsOut


class ProbeStatus(msgspec.Struct):
    status: str


class DependencyOut(msgspec.Struct):
    status: str
    message: str
    critical: bool
    latencyMs: float
    details: dict[str, Any]


class DetailedHealth(msgspec.Struct):
    status: str
    version: str
    timestamp: str
    uptime: float
    ready: bool
    services: ServiceCountsOut
    dependencies: dict[str, DependencyOut]


def _counts(counts: ServiceCounts) -> ServiceCountsOut:
    return ServiceCountsOut(counts.total, counts.healthy, counts.unhealthy, counts.stopped)


def _dependencies(reports: list[DependencyReport]) -> dict[str, DependencyOut]:
    return {
        r.name: DependencyOut(str(r.status), r.message, r.critical, r.latency_ms, r.details)
        for r in reports
    }


class HealthApi:
    """Liveness, readiness and the state of every dependency."""

    def __init__(self, health: Health) -> None:
        self._health = health

    @endpoint(
        "GET",
        "/health",
        summary="Overall health",
        tag="health",
        permission=None,
        group="health",
        response=HealthSummary,
    )
    async def summary(self, request: web.Request) -> HealthSummary:
        """Status, version, uptime and service counts; always 200 while the daemon answers."""
        reports = await self._health.check()
        return HealthSummary(
            str(Health.verdict(reports)),
            homei.__version__,
            now_iso(),
            round(self._health.uptime, 3),
            _counts(await self._health.service_counts()),
        )

    @endpoint(
        "GET",
        "/health/live",
        summary="Liveness probe",
        tag="health",
        permission=None,
        group="health",
        response=ProbeStatus,
    )
    async def live(self, request: web.Request) -> ProbeStatus:
        """The event loop answers."""
        return ProbeStatus("alive")

    @endpoint(
        "GET",
        "/health/ready",
        summary="Readiness probe",
        tag="health",
        permission=None,
        group="health",
        response=ProbeStatus,
        errors=(503,),
    )
    async def ready(self, request: web.Request) -> ProbeStatus:
        """200 once started and every critical dependency answers; 503 naming the failures."""
        reports = await self._health.check()
        failing = [r.name for r in reports if r.critical and str(r.status) == "unhealthy"]
        if not self._health.is_ready or failing:
            raise Unavailable(
                "Not ready" + (f": {', '.join(failing)}" if failing else ""),
                {"starting": not self._health.is_ready, "failing": failing},
            )
        return ProbeStatus("ready")

    @endpoint(
        "GET",
        "/health/detailed",
        summary="Health of every dependency",
        tag="health",
        permission=None,
        group="health",
        response=DetailedHealth,
    )
    async def detailed(self, request: web.Request) -> DetailedHealth:
        """Each dependency's status, message and latency."""
        reports = await self._health.check()
        return DetailedHealth(
            str(Health.verdict(reports)),
            homei.__version__,
            now_iso(),
            round(self._health.uptime, 3),
            self._health.is_ready,
            _counts(await self._health.service_counts()),
            _dependencies(reports),
        )

    @endpoint(
        "GET",
        "/api/v1/health/dependencies",
        summary="Dependency health",
        tag="health",
        permission=Permission.READ,
        group="health",
        response=dict[str, DependencyOut],
    )
    async def dependencies(self, request: web.Request) -> dict[str, DependencyOut]:
        """One entry per dependency, as in seed 000: database, and later docker, rauc, systemd."""
        return _dependencies(await self._health.check())
