"""A service's configuration taken again: by the signal or command its spec declares,
without a restart, or else by recreating its instance (and restarting, in dependency order,
the services running on top of it). Always as a task; `config:reloaded` when done.

Also what a change that must not break a service needs: the instance made from its new
configuration now, and whether it is healthy again within its health window."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from homei.core.clock import monotonic
from homei.core.errors import OperationFailed
from homei.core.events import EventBus
from homei.core.tasks import TaskContext, TaskManager, TaskRecord
from homei.core.work import Workplace, work
from homei.services import graph
from homei.services.control import ServiceControl
from homei.services.health import HealthMonitor
from homei.services.instance import HealthStatus
from homei.services.reconciler import Reconciler
from homei.services.spec import ServiceSpec
from homei.services.store import ServiceStore
from homei.services.turns import ONE_PER_SERVICE

_LOGGER = logging.getLogger(__name__)
RELOAD_COMMAND_TIMEOUT = 60.0
# However quick its checks, a service gets this long to come back healthy.
MIN_HEALTH_WINDOW = 10.0
HEALTH_POLL = 0.5


def health_window(spec: ServiceSpec) -> float:
    """How long a service may take, after its instance starts, to be healthy again: its
    grace period and as many of its checks as would restart it, or its Docker healthcheck's
    start period and retries."""
    policy = spec.health
    window = policy.start_period.seconds + policy.interval.seconds * max(1, policy.restart_after)
    check = spec.healthcheck
    if check is not None:
        rounds = (check.interval.seconds + check.timeout.seconds) * (check.retries + 1)
        window = max(window, check.start_period.seconds + rounds)
    return max(window, MIN_HEALTH_WINDOW)


class ConfigReload:
    """Reloads a service's configuration."""

    def __init__(
        self,
        store: ServiceStore,
        control: ServiceControl,
        reconciler: Reconciler,
        health: HealthMonitor,
        tasks: TaskManager,
        events: EventBus,
    ) -> None:
        self._store = store
        self._control = control
        self._reconciler = reconciler
        self._runtime = reconciler.runtime
        self._health = health
        self._tasks = tasks
        self._events = events

    @property
    def workplace(self) -> Workplace:
        """The services' turns, shared with the rest of the model."""
        return self._control.workplace

    async def reload(self, name: str, *, created_by: str | None) -> TaskRecord:
        """Start the task that reloads `name` (404 when it is not declared)."""
        self._store.declared(name)
        return await self._tasks.start(
            "config_reload",
            lambda context: self._run(context, name),
            service=name,
            created_by=created_by,
        )

    async def _run(self, context: TaskContext, name: str) -> dict[str, Any]:
        policy = self._store.declared(name).spec.reload
        if policy is None:
            await context.log(f"{name} declares no reload: recreating its instance")
            await self._recreate(name)
            method = "recreate"
        else:
            method = await self.in_place(name)
            await context.log(f"{name} reloaded by {method}")
        self._events.publish("config:reloaded", {"service": name, "method": method})
        return {"service": name, "method": method}

    @work(ONE_PER_SERVICE)
    async def in_place(self, name: str) -> str:
        """Reload `name` by its declared signal or command; which one it was."""
        policy = self._store.declared(name).spec.reload
        assert policy is not None
        if policy.signal is not None:
            await self._runtime.signal(name, policy.signal)
            return policy.signal
        assert policy.command is not None
        status = await self._runtime.exec(name, policy.command, RELOAD_COMMAND_TIMEOUT)
        if status != 0:
            raise OperationFailed(
                f"The reload command of '{name}' exited with status {status}",
                {"service": name, "exitCode": status},
            )
        return "command"

    async def _recreate(self, name: str) -> None:
        users = graph.dependents(self._store.graph(), name)
        running = [u for u in users if await self._is_running(u)]
        await self._control.stop(name)
        await self._remove(name)
        await self._control.start(name)
        for user in reversed(running):
            await self._control.start(user)

    @work(ONE_PER_SERVICE)
    async def _remove(self, name: str) -> None:
        if await self._runtime.inspect(name) is not None:
            await self._runtime.remove(name)

    async def _is_running(self, name: str) -> bool:
        state = await self._runtime.inspect(name)
        return state is not None and state.running

    def should_run(self, name: str) -> bool:
        """Whether `name` is declared to run (enabled, and not stopped by anyone)."""
        row = self._store.declared(name)
        return row.should_run

    @work(ONE_PER_SERVICE)
    async def apply(self, name: str) -> None:
        """Make `name`'s instance from its spec and configuration now: recreated when its
        configuration changed, started."""
        await self._reconciler.ensure(self._store.declared(name), run=True)

    async def unhealthy_within(self, name: str, window: float) -> str | None:
        """None once `name` is healthy, else why not when it fails or `window` runs out."""
        give_up = monotonic() + window
        last = "not checked"
        while True:
            state = await self._health.check(name)
            if state.status is HealthStatus.HEALTHY:
                return None
            last = state.error or str(state.status)
            if state.status is HealthStatus.UNHEALTHY:
                return f"unhealthy: {last}"
            if monotonic() >= give_up:
                return f"not healthy within {window:g}s ({last})"
            await asyncio.sleep(HEALTH_POLL)
