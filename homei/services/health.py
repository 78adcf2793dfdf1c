"""Service health: the instance's own healthcheck plus the checks Homei runs.

Each service is healthy, unhealthy, starting or stopped. A service whose instance is
restarting, or has restarted more than `restart_budget` times within `restart_window`, is in
a crash loop: unhealthy whatever its checks say. A change raises `service:health:changed`;
turning unhealthy raises `health:alert`. A service that fails `restart_after` checks in a
row is restarted, then again only after a back-off that doubles each time it fails to
recover (`RESTART_BACKOFF`, a work policy); the restarts are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from homei.core.clock import monotonic, now_iso
from homei.core.errors import RateLimited
from homei.core.events import EventBus
from homei.core.health import DependencyReport, HealthState, ServiceCounts
from homei.core.work import Backoff, Workplace, work
from homei.services.checks import CheckRunner, ServiceHealth, crash_loop
from homei.services.control import ServiceControl
from homei.services.instance import HealthStatus, RuntimeFailure, age
from homei.services.runtime import Runtime
from homei.services.store import ServiceStore

_LOGGER = logging.getLogger(__name__)

HEALTHY, UNHEALTHY, STARTING, STOPPED = (
    HealthStatus.HEALTHY,
    HealthStatus.UNHEALTHY,
    HealthStatus.STARTING,
    HealthStatus.STOPPED,
)
_CHECK_RESULTS = {HEALTHY: "passed", UNHEALTHY: "failed", STARTING: "starting"}

# Health-driven restarts of one service: each waits twice as long as the one before, from
# the `restart_backoff` setting up to `restart_backoff_max`, until the service is healthy.
RESTART_BACKOFF = Backoff(
    "unhealthy-restart",
    first=lambda monitor: monitor.backoff,
    cap=lambda monitor: monitor.max_backoff,
    key="name",
    refuse=lambda name, wait: RateLimited(
        f"Service '{name}' may be restarted again in {wait:.0f}s", {"wait": wait}
    ),
)


class HealthMonitor:
    """Checks every declared service on its own interval."""

    def __init__(
        self,
        store: ServiceStore,
        runtime: Runtime,
        control: ServiceControl,
        events: EventBus,
        *,
        backoff: float = 10.0,
        max_backoff: float = 300.0,
    ) -> None:
        self._store = store
        self._runtime = runtime
        self._control = control
        self._events = events
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.states: dict[str, ServiceHealth] = {}
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._checks = CheckRunner(runtime)
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def workplace(self) -> Workplace:
        """The services' work policies' state, shared with the rest of the model."""
        return self._control.workplace

    def get(self, name: str) -> ServiceHealth:
        return self.states.setdefault(name, ServiceHealth())

    def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise(), name="homei-service-health")

    async def stop(self) -> None:
        tasks = [t for t in (self._supervisor, *self._loops.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._checks.close()

    async def _supervise(self) -> None:
        """One loop per declared service: started for new ones, ended for removed ones."""
        while True:
            declared = self._store.all()
            for name in set(self._loops) - set(declared):
                self._loops.pop(name).cancel()
                self.states.pop(name, None)
                self.workplace.forget(RESTART_BACKOFF, name)
            for name in set(declared) - set(self._loops):
                self._loops[name] = asyncio.create_task(
                    self._watch(name), name=f"homei-health-{name}"
                )
            await asyncio.sleep(1.0)

    async def _watch(self, name: str) -> None:
        while True:
            row = self._store.get(name)
            if row is None:
                return
            try:
                await self.check(name)
            except RuntimeFailure as err:
                _LOGGER.debug("Health of %s unknown: %s", name, err.message)
            except Exception:
                _LOGGER.exception("Health check of %s failed", name)
            await asyncio.sleep(row.spec.health.interval.seconds)

    async def check(self, name: str) -> ServiceHealth:
        """Check one service now, update its state, and act on it."""
        row = self._store.get(name)
        state = self.get(name)
        if row is None:
            return state
        instance = await self._runtime.inspect(name)
        started = monotonic()
        results: dict[str, str] = {}
        error = None
        checks_failed = False
        crash = crash_loop(state, instance, row.spec.health)
        if crash is not None:
            status, error = UNHEALTHY, crash
        elif instance is None or not instance.running or instance.paused:
            status = STOPPED
        else:
            if instance.health is not None:
                results["docker"] = _CHECK_RESULTS[instance.health]
            for item in row.spec.health.checks:
                passed, reason = await self._checks.run(row.spec, item, instance)
                results[item.type] = "passed" if passed else "failed"
                error = error or reason
            failed = [k for k, v in results.items() if v == "failed"]
            if failed:
                in_grace = age(instance.started_at) < row.spec.health.start_period.seconds
                status = STARTING if in_grace else UNHEALTHY
                checks_failed = not in_grace
                error = error or f"{', '.join(failed)} check failed"
            elif results.get("docker") == "starting":
                status = STARTING
            else:
                status = HEALTHY
        state.response_time = round((monotonic() - started) * 1000, 1)
        state.last_check = now_iso()
        state.checks = results
        await self._transition(
            name, state, status, error if status == UNHEALTHY else None, remedy=checks_failed
        )
        return state

    async def _transition(
        self,
        name: str,
        state: ServiceHealth,
        status: HealthStatus,
        error: str | None,
        *,
        remedy: bool,
    ) -> None:
        previous, state.status, state.error = state.status, status, error
        if status == UNHEALTHY:
            state.failures += 1
        elif status == HEALTHY:
            state.failures = 0
            self.workplace.forget(RESTART_BACKOFF, name)  # recovered: the back-off starts over
        if previous != status:
            self._events.publish(
                "service:health:changed",
                {"service": name, "previous": previous, "status": status, "error": error},
            )
            if status == UNHEALTHY:
                self._events.publish(
                    "health:alert",
                    {
                        "service": name,
                        "severity": "warning",
                        "message": f"{name} is unhealthy: {error}",
                    },
                )
        row = self._store.get(name)
        limit = row.spec.health.restart_after if row else 0
        # A crash loop is the runtime's to restart (its restart policy already does): Homei's
        # remedy is for a service that runs but fails its checks.
        if remedy and limit and state.failures >= limit:
            with contextlib.suppress(RateLimited):  # still backing off: failures keep counting
                await self._restart(name, state)

    @work(RESTART_BACKOFF)
    async def _restart(self, name: str, state: ServiceHealth) -> None:
        state.failures = 0
        _LOGGER.warning("Restarting unhealthy service %s", name)
        self._events.publish(
            "health:alert",
            {
                "service": name,
                "severity": "critical",
                "message": f"Restarting unhealthy service {name}",
            },
        )
        await self._control.restart_unhealthy(name)
        self._events.publish("service:restarted", {"service": name, "reason": "unhealthy"})

    def count(self, status: HealthStatus) -> int:
        """How many declared services are in `status` now."""
        return sum(1 for name in self._store.all() if self.get(name).status == status)

    async def counts(self) -> ServiceCounts:
        """Totals for `/health` (seed 000's `services` block)."""
        return ServiceCounts(
            total=len(self._store.all()),
            healthy=self.count(HEALTHY),
            unhealthy=self.count(UNHEALTHY),
            stopped=self.count(STOPPED),
        )

    def summary(self) -> list[dict[str, Any]]:
        """Every service's health, for `/api/v1/health/services`."""
        return [{"name": name, **self.get(name).as_dict()} for name in sorted(self._store.all())]

    async def report(self) -> DependencyReport:
        """Critical services as one dependency of the device: unhealthy while one is down."""
        down = [
            name
            for name, row in self._store.all().items()
            if row.spec.critical
            and row.should_run
            and self.get(name).status in (UNHEALTHY, STOPPED)
        ]
        if down:
            return DependencyReport(
                "services",
                HealthState.UNHEALTHY,
                f"critical services down: {', '.join(sorted(down))}",
            )
        return DependencyReport("services", HealthState.HEALTHY, "critical services are up")
