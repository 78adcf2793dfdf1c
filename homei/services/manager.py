"""Declaring, changing and removing services: checked at once, carried out as tasks.

A request is refused before anything is written when it cannot work: a bad field, a
privilege the policy forbids, a missing dependency or a cycle, a name or a host port
already taken, an image that is neither on the device nor pullable. What passes is
declared and carried out by a task; a task that fails takes back what it created,
so a failed install leaves nothing behind and a failed update leaves the old
container running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Awaitable, Callable
from typing import Any

from homei.core.errors import Conflict, HomeiError
from homei.core.events import EventBus
from homei.core.tasks import TaskContext, TaskManager, TaskRecord
from homei.core.work import Workplace, work
from homei.services import graph, ports
from homei.services.control import ServiceControl
from homei.services.instance import (
    ImageMissing,
    InstanceState,
    ServiceStatus,
)
from homei.services.policy import Policy
from homei.services.reconciler import Reconciler
from homei.services.spec import ServiceSpec, normalise, parse_spec, spec_fields
from homei.services.store import Declared, ServiceStore
from homei.services.turns import ONE_PER_SERVICE

_LOGGER = logging.getLogger(__name__)

# A check of another part (the reverse proxy's domains) a spec must pass before it is declared.
Admission = Callable[[ServiceSpec, Declared | None], Awaitable[None]]


class ServiceExists(Conflict):
    code = "SERVICE_ALREADY_EXISTS"


class ServiceManager:
    """The services API's one entry point into the service model."""

    def __init__(
        self,
        store: ServiceStore,
        reconciler: Reconciler,
        policy: Policy,
        control: ServiceControl,
        workplace: Workplace,
        tasks: TaskManager,
        events: EventBus,
    ) -> None:
        self.store = store
        self.control = control
        self._reconciler = reconciler
        self._runtime = reconciler.runtime
        self._policy = policy
        self._work = workplace
        self._tasks = tasks
        self._events = events
        self.busy: dict[str, ServiceStatus] = {}  # installing or updating, until its task ends
        self.admission: list[Admission] = []

    @property
    def workplace(self) -> Workplace:
        """The services' work policies' state, shared with the rest of the model."""
        return self._work

    def declared(self, name: str) -> Declared:
        """The declared service; `ServiceNotFound` when there is none."""
        return self.store.declared(name)

    async def config_match(self, declared: Declared, instance: InstanceState | None) -> bool | None:
        """Whether the instance runs with the configuration its spec resolves to now (003's
        `config_match`); None without an instance."""
        if instance is None:
            return None
        try:
            return await self._reconciler.config_match(declared.spec, instance)
        except HomeiError:  # a device variable it needs is gone: it cannot match
            return False

    # --- checks ------------------------------------------------------------------------
    async def _admissible(self, spec: ServiceSpec, old: Declared | None) -> None:
        """Everything that would make the spec fail, found before anything is written."""
        # Device variables must be defined, and what they expand to obey the policy.
        expanded = self._reconciler.configuration.expand(spec)
        await asyncio.to_thread(self._policy.enforce, expanded)
        known = self.store.graph()
        missing = [dep for dep in spec.depends_on if dep not in known]
        if missing:
            raise graph.DependencyError(
                f"'{spec.name}' depends on undeclared services: {', '.join(missing)}",
                {"missing": missing, "service": spec.name},
            )
        known[spec.name] = list(spec.depends_on)
        cycle = graph.find_cycle(known)
        if cycle:
            raise graph.DependencyError(f"Dependency cycle: {' -> '.join(cycle)}", {"cycle": cycle})
        await self._runtime.require()
        if old is None:
            existing = await self._runtime.inspect(spec.name)
            if existing is not None:
                raise ServiceExists(
                    f"A container named '{spec.name}' already exists and is not managed by Homei",
                    {"service_name": spec.name},
                )
        await ports.native_port_free(self.store, spec, old)
        await ports.published_ports_free(self._runtime, spec, old)
        if not await self._runtime.image_present(spec.image):
            reason = await self._runtime.image_fetchable(spec.image)
            if reason is not None:
                raise ImageMissing(
                    f"Image '{spec.image}' is not on the device and no registry has it"
                    " (load it with POST /api/v1/images/load)",
                    {"fields": [{"path": "image", "message": reason}]},
                )
        for admit in self.admission:
            await admit(spec, old)

    async def admissible(self, spec: ServiceSpec) -> None:
        """Raise what an install (or update) of `spec` would be refused with."""
        await self._admissible(spec, self.store.get(spec.name))

    async def validate(self, body: Any) -> dict[str, Any]:
        """Every check an install or update would make, as a verdict instead of an error."""
        try:
            spec = parse_spec(body)
            await self._admissible(spec, self.store.get(spec.name))
        except HomeiError as err:
            return {"valid": False, "errors": [err.message], "details": err.details}
        return {"valid": True, "errors": [], "details": {}}

    # --- install -----------------------------------------------------------------------
    async def install(self, body: Any, created_by: str | None) -> tuple[ServiceSpec, TaskRecord]:
        """Declare a service and start the task that brings it up."""
        spec = parse_spec(body)
        await self._admit_install(spec.name, spec)
        task = await self._tasks.start(
            "service_install",
            lambda context: self._run_install(context, spec),
            service=spec.name,
            params={"image": spec.image},
            created_by=created_by,
        )
        self._release_when_finished(task, spec.name)
        return spec, task

    @work(ONE_PER_SERVICE)
    async def _admit_install(self, name: str, spec: ServiceSpec) -> None:
        if self.store.get(name) is not None or name in self.busy:
            raise ServiceExists(f"Service '{name}' already exists", {"service_name": name})
        await self._admissible(spec, None)
        self.busy[name] = ServiceStatus.INSTALLING  # the name is taken from now on

    def _release_when_finished(self, task: TaskRecord, name: str) -> None:
        """Clear the service's mark however its task ends, even cancelled before it ran."""

        def release() -> None:
            self.busy.pop(name, None)

        self._tasks.when_finished(task.id, release)

    async def _run_install(self, context: TaskContext, spec: ServiceSpec) -> dict[str, Any]:
        folder = self._policy.service_dir(spec.name)
        # Only a folder this install makes is removed on failure: never data that was there.
        new_folder = not await asyncio.to_thread(folder.exists)
        try:
            await self._declare_and_create(spec.name, context, spec)
            if spec.enabled:
                await context.progress(75, "Starting dependencies and the service")
                await self.control.start(spec.name)
        except BaseException as err:
            await context.log(f"Install failed, removing what it created: {err}", "error")
            with contextlib.suppress(Exception):
                await self._forget(spec.name, remove_data=False)
            if new_folder:
                await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)
            raise
        finally:
            self.busy.pop(spec.name, None)
        self._events.publish(
            "service:installed",
            {"service": spec.name, "version": spec.version, "status": "installed"},
        )
        return {"success": True, "message": f"Service {spec.name} installed"}

    @work(ONE_PER_SERVICE)
    async def _declare_and_create(self, name: str, context: TaskContext, spec: ServiceSpec) -> None:
        # Declared by the task, not the request: a task cancelled before it ran leaves
        # nothing declared.
        declared = await self.store.put(spec, "running")
        await context.log(f"Installing {name} from {spec.image}")
        await self._runtime.ensure_image(spec.image, context.progress)
        await context.progress(40, "Preparing networks, volumes and folders")
        await asyncio.to_thread(self._policy.service_dir(name).mkdir, parents=True, exist_ok=True)
        await context.progress(60, "Creating the container")
        await self._reconciler.ensure(declared, run=False)

    # --- update ------------------------------------------------------------------------
    async def update(
        self, name: str, body: dict[str, Any], created_by: str | None
    ) -> tuple[ServiceSpec, TaskRecord]:
        """Change a service: the fields given replace the declared ones."""
        old = self.declared(name)
        merged = spec_fields(old.spec)
        changes = {k: v for k, v in body.items() if k != "config"}
        if isinstance(body.get("config"), dict):
            changes["config"] = body["config"]
        merged.update(normalise({**changes, "name": name}))
        spec = parse_spec(merged, name=name)
        await self._admit_update(name, spec, old)
        task = await self._tasks.start(
            "service_update",
            lambda context: self._run_update(context, name, spec),
            service=name,
            params={"image": spec.image},
            created_by=created_by,
        )
        self._release_when_finished(task, name)
        return spec, task

    @work(ONE_PER_SERVICE)
    async def _admit_update(self, name: str, spec: ServiceSpec, old: Declared) -> None:
        await self._admissible(spec, old)
        self.busy[name] = ServiceStatus.UPDATING

    async def _run_update(self, context: TaskContext, name: str, spec: ServiceSpec) -> Any:
        try:
            await self._apply_update(name, context, spec)
        finally:
            self.busy.pop(name, None)
        self._events.publish("service:updated", {"service": name, "image": spec.image})
        return {"success": True, "message": f"Service {name} updated"}

    @work(ONE_PER_SERVICE)
    async def _apply_update(self, name: str, context: TaskContext, spec: ServiceSpec) -> None:
        old = self.declared(name)
        await self._runtime.ensure_image(spec.image, context.progress)
        if spec.runtime_hash() != old.spec.runtime_hash():
            await context.progress(50, "Preparing the new container and swapping it in")
            run = spec.enabled and old.desired == "running"
            await self._reconciler.swap(old, spec, run=run)
        declared = await self.store.put(spec)
        await context.progress(90, "Applying the declared state")
        await self._reconciler.ensure(declared, run=declared.should_run or None)

    # --- delete ------------------------------------------------------------------------
    async def delete(self, name: str, *, force: bool, remove_data: bool) -> None:
        """Stop and remove a service; 409 while others depend on it, unless `force`."""
        self.declared(name)
        users = graph.dependents(self.store.graph(), name)
        if users and not force:
            raise graph.HasDependents(
                f"Service '{name}' is needed by: {', '.join(users)}",
                {"service_name": name, "dependents": users},
            )
        await self._forget(name, remove_data=remove_data)
        self._events.publish("service:uninstalled", {"service": name, "removeData": remove_data})

    async def _forget(self, name: str, *, remove_data: bool) -> None:
        await self._remove(name, remove_data=remove_data)
        self._work.forget(ONE_PER_SERVICE, name)

    @work(ONE_PER_SERVICE)
    async def _remove(self, name: str, *, remove_data: bool) -> None:
        row = self.store.get(name)
        if row is not None and remove_data:
            await self._runtime.remove_data(row.spec)
        await self._reconciler.remove(name)
        if row is not None:
            others = {
                network
                for other, declared in self.store.all().items()
                if other != name
                for network in declared.spec.networks
            }
            await self._runtime.release(row.spec, others)
            await self._reconciler.configuration.release(name, forget=remove_data)
        if row is not None and remove_data:
            for volume in row.spec.volumes:
                if volume.is_named:
                    await self._runtime.remove_volume(volume.source)
            folder = self._policy.service_dir(name)
            await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)
        await self.store.remove(name)
