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
from homei.services import graph
from homei.services.instance import HealthStatus
from homei.services.locks import ServiceLocks
from homei.services.reconciler import Reconciler
from homei.services.store import Declared, ServiceStore

_LOGGER = logging.getLogger(__name__)


class ServiceControl:
    def __init__(
        self,
        store: ServiceStore,
        reconciler: Reconciler,
        locks: ServiceLocks,
        events: EventBus,
        *,
        dependency_timeout: float = 60.0,
    ) -> None:
        self._store = store
        self._reconciler = reconciler
        self._runtime = reconciler.runtime
        self._locks = locks
        self._events = events
        self._dependency_timeout = dependency_timeout

    def _declared(self, name: str) -> Declared:
        return self._store.declared(name)

    async def start(self, name: str) -> list[str]:
        """Start `name` after everything it needs; the services started, in order."""
        self._declared(name)
        order = graph.start_order(self._store.graph(), [name])
        started = []
        for service in order:
            async with self._locks.get(service):
                row = self._declared(service)
                await self._store.set_desired(service, "running")
                row = self._declared(service)
                if not row.spec.enabled:
                    if service == name:
                        _LOGGER.info("Service %s is disabled: not starting it", service)
                    continue
                before = await self._runtime.inspect(service)
                await self._reconciler.ensure(row, run=True)
                if before is None or not before.running:
                    started.append(service)
            if service != name:
                await self.wait_running(service)
        return started

    async def stop(
        self, name: str, *, graceful: bool = True, timeout: int | None = None
    ) -> list[str]:
        """Stop the services that need `name`, then `name`; the services stopped, in order."""
        self._declared(name)
        order = [*graph.dependents(self._store.graph(), name), name]
        stopped = []
        for service in order:
            async with self._locks.get(service):
                row = self._declared(service)
                await self._store.set_desired(service, "stopped")
                state = await self._runtime.inspect(service)
                if state is None or not state.running:
                    continue
                if graceful:
                    wait = timeout if timeout is not None else row.spec.stop_timeout
                    await self._runtime.stop(service, wait)
                else:
                    await self._runtime.kill(service)
                stopped.append(service)
                self._events.publish("service:stopped", {"service": service})
        return stopped

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

    async def restart_unhealthy(self, name: str) -> None:
        """Restart only this service's container (the health monitor's remedy)."""
        async with self._locks.get(name):
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
