"""A service's configuration taken again: by the signal or command its spec declares,
without a restart, or else by recreating its instance (and restarting, in dependency order,
the services running on top of it). Always as a task; `config:reloaded` when done."""

from __future__ import annotations

import logging
from typing import Any

from homei.core.errors import OperationFailed
from homei.core.events import EventBus
from homei.core.tasks import TaskContext, TaskManager, TaskRecord
from homei.core.work import Workplace, work
from homei.services import graph
from homei.services.control import ServiceControl
from homei.services.runtime import Runtime
from homei.services.store import ServiceStore
from homei.services.turns import ONE_PER_SERVICE

_LOGGER = logging.getLogger(__name__)
RELOAD_COMMAND_TIMEOUT = 60.0


class ConfigReload:
    """Reloads a service's configuration."""

    def __init__(
        self,
        store: ServiceStore,
        control: ServiceControl,
        runtime: Runtime,
        tasks: TaskManager,
        events: EventBus,
    ) -> None:
        self._store = store
        self._control = control
        self._runtime = runtime
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
