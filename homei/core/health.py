"""The daemon's view of its own health: one check per dependency it relies on.

Domains register a check for what they need (the database now; Docker, RAUC and
systemd as they arrive). `/health*`, the watchdog and the boot health gate all
read the same reports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

import msgspec

from homei.core.clock import monotonic


class HealthState(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


class DependencyReport(msgspec.Struct, frozen=True):
    """How one dependency is doing right now."""

    name: str
    status: HealthState
    message: str = ""
    critical: bool = True
    latency_ms: float = 0.0
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class ServiceCounts(msgspec.Struct, frozen=True):
    total: int = 0
    healthy: int = 0
    unhealthy: int = 0
    stopped: int = 0


DependencyCheck = Callable[[], Awaitable[DependencyReport]]
ServiceCounter = Callable[[], Awaitable[ServiceCounts]]


async def _no_services() -> ServiceCounts:
    return ServiceCounts()


class Health:
    """Registered dependency checks and the overall verdict drawn from them."""

    def __init__(self, *, check_timeout: float = 3.0) -> None:
        self._checks: dict[str, tuple[DependencyCheck, bool]] = {}
        self._timeout = check_timeout
        self._service_counter: ServiceCounter = _no_services
        self._started = monotonic()
        self.started_at = time.time()
        self.is_ready = False

    @property
    def uptime(self) -> float:
        """Seconds since the daemon started."""
        return monotonic() - self._started

    def register(self, name: str, check: DependencyCheck, *, critical: bool = True) -> None:
        """Add a dependency; a failing critical one makes the daemon unhealthy and not ready."""
        self._checks[name] = (check, critical)

    def count_services_with(self, counter: ServiceCounter) -> None:
        """Where `/health` gets its service counts from."""
        self._service_counter = counter

    async def service_counts(self) -> ServiceCounts:
        """Service totals by health."""
        return await self._service_counter()

    async def _run(self, name: str, check: DependencyCheck, critical: bool) -> DependencyReport:
        started = monotonic()
        try:
            async with asyncio.timeout(self._timeout):
                report = await check()
        except TimeoutError:
            report = DependencyReport(
                name, HealthState.UNHEALTHY, f"No answer within {self._timeout:.0f}s"
            )
        except Exception as err:  # a failing check is a report, not a crash
            report = DependencyReport(name, HealthState.UNHEALTHY, str(err) or type(err).__name__)
        latency = round((monotonic() - started) * 1000, 2)
        return DependencyReport(
            report.name, report.status, report.message, critical, latency, report.details
        )

    async def check(self) -> list[DependencyReport]:
        """Every dependency's report, checked concurrently."""
        return list(
            await asyncio.gather(
                *(
                    self._run(name, check, critical)
                    for name, (check, critical) in self._checks.items()
                )
            )
        )

    @staticmethod
    def verdict(reports: list[DependencyReport]) -> HealthState:
        """Unhealthy if a critical dependency fails, degraded if any other does."""
        if any(r.critical and r.status is HealthState.UNHEALTHY for r in reports):
            return HealthState.UNHEALTHY
        if any(r.status is not HealthState.HEALTHY for r in reports):
            return HealthState.DEGRADED
        return HealthState.HEALTHY
