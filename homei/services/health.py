"""Service health: the container's own Docker healthcheck plus the checks Homei runs.

Each service is healthy, unhealthy, starting or stopped. A change raises
`service:health:changed`; turning unhealthy raises `health:alert`. A service that fails
`restart_after` checks in a row is restarted, then again only after a back-off that
doubles each time it fails to recover; the restarts are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from homei.core.clock import monotonic, now_iso
from homei.core.events import EventBus
from homei.core.health import DependencyReport, HealthState, ServiceCounts
from homei.docker.engine import DockerError
from homei.docker.runtime import DockerRuntime
from homei.services.control import ServiceControl
from homei.services.spec import Check, ServiceSpec, parse_duration
from homei.services.store import ServiceStore

_LOGGER = logging.getLogger(__name__)

HEALTHY, UNHEALTHY, STARTING, STOPPED = "healthy", "unhealthy", "starting", "stopped"
STATES = (HEALTHY, UNHEALTHY, STARTING, STOPPED)


@dataclass
class ServiceHealth:
    status: str = STOPPED
    last_check: str | None = None
    response_time: float | None = None
    error: str | None = None
    checks: dict[str, str] = field(default_factory=dict)
    failures: int = 0
    restarts_in_a_row: int = 0
    next_restart_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "lastCheck": self.last_check,
            "responseTime": self.response_time,
            "error": self.error,
            "failures": self.failures,
            "details": {"checks": dict(self.checks)},
        }


class HealthMonitor:
    """Checks every declared service on its own interval."""

    def __init__(
        self,
        store: ServiceStore,
        runtime: DockerRuntime,
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
        self._backoff = backoff
        self._max_backoff = max_backoff
        self.states: dict[str, ServiceHealth] = {}
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._supervisor: asyncio.Task[None] | None = None

    def get(self, name: str) -> ServiceHealth:
        return self.states.setdefault(name, ServiceHealth())

    def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise(), name="homei-service-health")

    async def stop(self) -> None:
        tasks = [t for t in (self._supervisor, *self._loops.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _supervise(self) -> None:
        """One loop per declared service: started for new ones, ended for removed ones."""
        while True:
            declared = self._store.all()
            for name in set(self._loops) - set(declared):
                self._loops.pop(name).cancel()
                self.states.pop(name, None)
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
            except DockerError as err:
                _LOGGER.debug("Health of %s unknown: %s", name, err.message)
            except Exception:
                _LOGGER.exception("Health check of %s failed", name)
            await asyncio.sleep(parse_duration(row.spec.health.interval, "health.interval"))

    async def check(self, name: str) -> ServiceHealth:
        """Check one service now, update its state, and act on it."""
        row = self._store.get(name)
        state = self.get(name)
        if row is None:
            return state
        inspected = await self._runtime.inspect(name) or {}
        container = inspected.get("State") or {}
        started = monotonic()
        results: dict[str, str] = {}
        error = None
        if not container.get("Running") or container.get("Paused"):
            status = STOPPED
        else:
            docker_health = (container.get("Health") or {}).get("Status")
            if docker_health:
                results["docker"] = {"healthy": "passed", "unhealthy": "failed"}.get(
                    docker_health, docker_health
                )
            for item in row.spec.health.checks:
                passed, reason = await self._run(row.spec, item, inspected)
                results[item.type] = "passed" if passed else "failed"
                error = error or reason
            failed = [k for k, v in results.items() if v == "failed"]
            if failed:
                in_grace = _age(container.get("StartedAt")) < parse_duration(
                    row.spec.health.start_period, "health.start_period"
                )
                status = STARTING if in_grace else UNHEALTHY
                error = error or f"{', '.join(failed)} check failed"
            elif results.get("docker") == "starting":
                status = STARTING
            else:
                status = HEALTHY
        state.response_time = round((monotonic() - started) * 1000, 1)
        state.last_check = now_iso()
        state.checks = results
        await self._transition(name, state, status, error if status == UNHEALTHY else None)
        return state

    async def _transition(
        self, name: str, state: ServiceHealth, status: str, error: str | None
    ) -> None:
        previous, state.status, state.error = state.status, status, error
        if status == UNHEALTHY:
            state.failures += 1
        elif status == HEALTHY:
            state.failures = 0
            state.restarts_in_a_row = 0
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
        if (
            status == UNHEALTHY
            and limit
            and state.failures >= limit
            and monotonic() >= state.next_restart_at
        ):
            await self._restart(name, state)

    async def _restart(self, name: str, state: ServiceHealth) -> None:
        delay = min(self._backoff * 2**state.restarts_in_a_row, self._max_backoff)
        state.restarts_in_a_row += 1
        state.next_restart_at = monotonic() + delay
        state.failures = 0
        _LOGGER.warning(
            "Restarting unhealthy service %s (next restart no sooner than %.0fs)", name, delay
        )
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

    async def _run(
        self, spec: ServiceSpec, item: Check, inspected: dict[str, Any]
    ) -> tuple[bool, str | None]:
        timeout = parse_duration(spec.health.timeout, "health.timeout")
        if item.type == "command":
            assert item.command is not None
            try:
                code = await self._runtime.exec(spec.name, item.command, timeout)
            except DockerError as err:
                return False, err.message
            return code == 0, None if code == 0 else f"command exited with {code}"
        address = _address(inspected)
        if address is None:
            return False, "the container has no address to check"
        try:
            async with asyncio.timeout(timeout):
                if item.type == "tcp":
                    _, writer = await asyncio.open_connection(address, item.port)
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
                    return True, None
                if self._session is None:
                    self._session = aiohttp.ClientSession()
                url = f"http://{address}:{item.port}{item.path}"
                async with self._session.get(url, allow_redirects=False) as response:
                    ok = (
                        response.status == item.expect_status
                        if item.expect_status
                        else response.status < 400
                    )
                    return ok, None if ok else f"HTTP {response.status} from {item.path}"
        except (OSError, TimeoutError, aiohttp.ClientError) as err:
            return False, f"{item.type} check: {type(err).__name__} {err}".strip()

    def count(self, status: str) -> int:
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


def _address(inspected: dict[str, Any]) -> str | None:
    networks = (inspected.get("NetworkSettings") or {}).get("Networks") or {}
    for network in networks.values():
        if network.get("IPAddress"):
            return str(network["IPAddress"])
    return None


def _age(started_at: str | None) -> float:
    if not started_at:
        return 0.0
    try:
        started = datetime.fromisoformat(started_at[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return 1e9
    return (datetime.now(started.tzinfo) - started).total_seconds()
