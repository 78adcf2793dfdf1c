"""Starting, stopping and restarting services in dependency order.

Starting a service starts what it needs first, each one waited for until it runs (and,
with a Docker healthcheck, until it is no longer starting). Stopping a service stops
the services that need it first, furthest first. A restart stops those dependents,
restarts the service, and starts again the dependents that were running.
"""

from __future__ import annotations

import asyncio
import logging

from homei.core.clock import monotonic
from homei.core.events import EventBus
from homei.core.work import Workplace, work
from homei.services import graph
from homei.services.instance import HealthStatus
from homei.services.reconciler import Reconciler
from homei.services.store import Declared, ServiceStore
from homei.services.turns import ONE_PER_SERVICE

_LOGGER = logging.getLogger(__name__)


class ServiceControl:
    def __init__(
        self,
        store: ServiceStore,
        reconciler: Reconciler,
        workplace: Workplace,
        events: EventBus,
        *,
        dependency_timeout: float = 60.0,
    ) -> None:
        self._store = store
        self._reconciler = reconciler
        self._runtime = reconciler.runtime
        self._work = workplace
        self._events = events
        self._dependency_timeout = dependency_timeout

    @property
    def workplace(self) -> Workplace:
        """The services' work policies' state, shared with the rest of the model."""
        return self._work

    def _declared(self, name: str) -> Declared:
        return self._store.declared(name)

    async def start(self, name: str) -> list[str]:
        """Start `name` after everything it needs; the services started, in order."""
        self._declared(name)
        order = graph.start_order(self._store.graph(), [name])
        started = []
        for service in order:
            if await self._start_one(service, requested=service == name):
                started.append(service)
            if service != name:
                await self.wait_running(service)
        return started

    @work(ONE_PER_SERVICE)
    async def _start_one(self, name: str, *, requested: bool) -> bool:
        """Declare `name` running and run it; whether it was not running before."""
        self._declared(name)
        await self._store.set_desired(name, "running")
        row = self._declared(name)
        if not row.spec.enabled:
            if requested:
                _LOGGER.info("Service %s is disabled: not starting it", name)
            return False
        before = await self._runtime.inspect(name)
        await self._reconciler.ensure(row, run=True)
        return before is None or not before.running

    async def stop(
        self, name: str, *, graceful: bool = True, timeout: int | None = None
    ) -> list[str]:
        """Stop the services that need `name`, then `name`; the services stopped, in order."""
        self._declared(name)
        order = [*graph.dependents(self._store.graph(), name), name]
        stopped = []
        for service in order:
            if await self._stop_one(service, graceful=graceful, timeout=timeout):
                stopped.append(service)
        return stopped

    @work(ONE_PER_SERVICE)
    async def _stop_one(self, name: str, *, graceful: bool, timeout: int | None) -> bool:
        """Declare `name` stopped and stop it; whether it was running."""
        row = self._declared(name)
        await self._store.set_desired(name, "stopped")
        state = await self._runtime.inspect(name)
        if state is None or not state.running:
            return False
        if graceful:
            wait = timeout if timeout is not None else row.spec.stop_timeout
            await self._runtime.stop(name, wait)
        else:
            await self._runtime.kill(name)
        self._events.publish("service:stopped", {"service": name})
        return True

    async def restart(self, name: str, *, timeout: int | None = None) -> None:
        """Restart `name`, taking down and bringing back what runs on top of it."""
        row = self._declared(name)
        users = graph.dependents(self._store.graph(), name)
        running_users = [u for u in users if await self._running(u)]
        stopped = await self.stop(name, timeout=timeout)
        if name not in stopped:
            _LOGGER.info("Service %s was not running; starting it", name)
        await self.start(name)
        for user in reversed(running_users):
            await self.start(user)
        self._events.publish("service:restarted", {"service": name, "image": row.spec.image})

    @work(ONE_PER_SERVICE)
    async def restart_unhealthy(self, name: str) -> None:
        """Restart only this service's container (the health monitor's remedy)."""
        row = self._store.get(name)
        if row is None or not row.should_run:
            return
        await self._runtime.stop(name, row.spec.stop_timeout)
        await self._reconciler.ensure(row, run=True)
        await self._store.count_restart(name)

    async def _running(self, name: str) -> bool:
        state = await self._runtime.inspect(name)
        return state is not None and state.running

    async def wait_running(self, name: str) -> None:
        """Until the service runs and its own healthcheck has left "starting"."""
        deadline = monotonic() + self._dependency_timeout
        while True:
            state = await self._runtime.inspect(name)
            if state is not None and state.running and state.health != HealthStatus.STARTING:
                return
            if monotonic() > deadline:
                raise DependencyNotReady(
                    f"Dependency '{name}' did not come up within {self._dependency_timeout:.0f}s",
                    {
                        "service": name,
                        "state": state.status if state else None,
                        "health": state.health if state else None,
                    },
                )
            await asyncio.sleep(0.2)


class DependencyNotReady(graph.DependencyError):
    status = 503
