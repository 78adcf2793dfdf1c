"""A change of the device variables reaching the services that write them as `${NAME}`: as
a task, each such service's instance is made again from its spec with the new values (the
reconciler's hash tells whether it differs: a service whose values did not change keeps its
instance). A stopped service takes them when it starts."""

from __future__ import annotations

from typing import Any

from homei.core.tasks import TaskContext, TaskManager, TaskRecord
from homei.services.reload import ConfigReload
from homei.services.spec import ServiceSpec
from homei.services.store import ServiceStore


def uses_device_variables(spec: ServiceSpec) -> bool:
    """Whether the spec writes a device variable (in an environment value or a volume)."""
    texts = [*spec.environment.values(), *(volume.source for volume in spec.volumes)]
    return any("${" in text for text in texts)


class DeviceVariables:
    """Applies changed device variables to the services that use them."""

    def __init__(self, services: ServiceStore, apply: ConfigReload, tasks: TaskManager) -> None:
        self._services = services
        self._apply = apply
        self._tasks = tasks

    async def changed(self) -> TaskRecord | None:
        """Start the task that remakes the running users' instances; None when none runs."""
        users = sorted(
            name
            for name, row in self._services.all().items()
            if row.should_run and uses_device_variables(row.spec)
        )
        if not users:
            return None
        return await self._tasks.start(
            "device_variables",
            lambda context: self._run(context, users),
            params={"services": users},
            created_by="device configuration",
        )

    async def _run(self, context: TaskContext, users: list[str]) -> dict[str, Any]:
        for done, name in enumerate(users):
            await context.progress(done * 100 // len(users), f"Applying to {name}")
            if self._services.get(name) is not None and self._apply.should_run(name):
                await self._apply.apply(name)
        return {"services": users}
