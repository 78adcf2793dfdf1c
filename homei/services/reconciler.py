"""Keeps the runtime equal to the declared services.

At start-up, whenever the runtime comes back, on every event of a managed instance
and once a minute as a backstop, each service's instance is compared with its spec:
a missing one is created, one that drifted (changed by hand, or made from an older
spec) is recreated, the restart policy decides whether a stopped one runs again, an
`enabled: false` service is kept stopped, and managed instances that no service
declares are removed. Instances without Homei's label are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from homei.core.errors import HomeiError
from homei.core.events import EventBus
from homei.core.work import Needs, Workplace, work
from homei.services.drift import config_matches, drift, expected
from homei.services.instance import InstanceRef, InstanceState, RuntimeFailure
from homei.services.policy import Policy
from homei.services.runtime import Configuration, NoConfiguration, Runtime
from homei.services.spec import ServiceSpec
from homei.services.store import Declared, ServiceStore
from homei.services.turns import ONE_PER_SERVICE, ONE_PER_SERVICE_UNLESS_BUSY, ServiceBusy

_LOGGER = logging.getLogger(__name__)

BACKSTOP_INTERVAL = 60.0
DEBOUNCE = 0.2
NEXT_SUFFIX = "--next"  # the staged instance of an update, until it is swapped in


def wants_running(declared: Declared, state: InstanceState) -> bool | None:
    """Whether a container should run now: True, False, or None for "leave it as it is"."""
    if not declared.should_run:
        return False
    policy = declared.spec.restart_policy
    if policy in ("always", "unless-stopped"):
        return True
    if policy == "on-failure":
        return True if state.running else state.exit_code != 0
    return None


# A pass waits for the runtime to answer; until then it is deferred, not failed.
RUNTIME_ANSWERS = Needs(lambda reconciler: reconciler.runtime.require())


class Reconciler:
    """Makes instances match specs, one service at a time, in that service's turn."""

    def __init__(
        self,
        runtime: Runtime,
        policy: Policy,
        store: ServiceStore,
        workplace: Workplace,
        events: EventBus,
        configuration: Configuration | None = None,
    ) -> None:
        self.runtime = runtime
        self.configuration: Configuration = configuration or NoConfiguration()
        self._policy = policy
        self._store = store
        self._workplace = workplace
        self._events = events
        self._pending: set[str] = set()
        self._all_pending = False
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self.passes = 0  # passes finished
        self._taken = 0  # passes that have taken their requests

    @property
    def workplace(self) -> Workplace:
        """The services' work policies' state, shared with the rest of the model."""
        return self._workplace

    # --- one service -----------------------------------------------------------------
    async def ensure(self, declared: Declared, *, run: bool | None) -> InstanceState | None:
        """The service's instance made from its spec, running if `run` (None: as the
        restart policy says). Call in the service's turn. Returns its state."""
        spec = await self.configuration.resolve(declared.spec)
        state = await self.runtime.inspect(spec.name)
        if state is not None and not state.belongs_to(spec.name):
            raise RuntimeFailure(
                f"A container named '{spec.name}' exists and is not Homei's",
                {"container": spec.name},
            )
        if state is not None:
            differences = self.drift(spec, state)
            if differences:
                _LOGGER.warning("Service %s drifted (%s): recreating", spec.name, differences)
                self._events.publish("service:drift", {"service": spec.name, "fields": differences})
                await self.runtime.remove(state.id)
                state = None
        if state is None:
            state = await self._adopt_staged(spec)
        if state is None:
            await self.runtime.prepare(spec)
            await self.runtime.create(spec, spec.name)
            state = await self.runtime.inspect(spec.name)
            if state is None:
                return None  # removed meanwhile: the next pass makes it again
        should = run if run is not None else wants_running(declared, state)
        if should and not state.running:
            await self.runtime.start(spec.name)
            self._events.publish("service:started", {"service": spec.name})
        elif should is False and state.running:
            await self.runtime.stop(spec.name, spec.stop_timeout)
            self._events.publish("service:stopped", {"service": spec.name})
        return await self.runtime.inspect(spec.name) or state

    def drift(self, spec: ServiceSpec, state: InstanceState) -> list[str]:
        """The (resolved) spec's fields in which the instance differs from it."""
        return drift(expected(spec, self._policy), state)

    async def config_match(self, spec: ServiceSpec, state: InstanceState) -> bool:
        """Whether the instance runs with the configuration its spec resolves to now."""
        resolved = await self.configuration.resolve(spec, write=False)
        return config_matches(expected(resolved, self._policy), state)

    async def swap(self, old: Declared, new: ServiceSpec, *, run: bool) -> None:
        """Replace the container of `old` with one made from `new`: the new container is
        created first; if it cannot start, it goes and the old one runs again as before."""
        new = await self.configuration.resolve(new)
        staged = f"{new.name}{NEXT_SUFFIX}"
        await self.runtime.remove(staged)  # a leftover of an interrupted swap
        await self.runtime.prepare(new)
        await self.runtime.create(new, staged)
        current = await self.runtime.inspect(new.name)
        was_running = current is not None and current.running
        try:
            if current is not None and was_running:
                await self.runtime.stop(current.id, old.spec.stop_timeout)
            if run:
                await self.runtime.start(staged)
        except BaseException:
            await self.runtime.remove(staged)
            if current is not None and was_running:
                await self.runtime.start(current.id)
            raise
        if current is not None:
            await self.runtime.remove(current.id)
        await self._rename(staged, new.name, new.stop_timeout, run=run)

    async def _rename(self, ref: str, name: str, stop_timeout: int, *, run: bool) -> None:
        """Give a staged instance its service's name. Docker refuses to rename a running
        container while its network sandbox is torn down or rebuilt (one restarting after a
        crash, say); a stopped one it always renames, so that is the second try."""
        try:
            await self.runtime.rename(ref, name)
        except HomeiError as err:
            _LOGGER.warning("Renaming %s failed (%s): stopping it to rename it", ref, err.message)
            await self.runtime.stop(ref, stop_timeout)
            await self.runtime.rename(ref, name)
            if run:
                await self.runtime.start(name)

    async def _adopt_staged(self, spec: ServiceSpec) -> InstanceState | None:
        """A swap cut off between removing the old instance and renaming the new one (a
        crash, a refused rename) leaves the service's only instance under its staged name:
        that instance is the service now, and making another would fight it for its ports."""
        staged = await self.runtime.inspect(f"{spec.name}{NEXT_SUFFIX}")
        if staged is None or not staged.belongs_to(spec.name):
            return None
        _LOGGER.warning("Service %s: adopting the instance an interrupted update left", spec.name)
        await self._rename(staged.id, spec.name, spec.stop_timeout, run=staged.running)
        self._events.publish("service:adopted", {"service": spec.name})
        return await self.runtime.inspect(spec.name)

    async def remove(self, name: str) -> None:
        """Every instance of the service (its volumes stay unless asked for separately)."""
        for instance in await self.runtime.instances(name):
            await self.runtime.remove(instance.id)

    # --- everything ------------------------------------------------------------------
    async def reconcile_all(self) -> None:
        """Every declared service, then the orphans."""
        declared = self._store.all()
        for name in sorted(declared):
            await self._reconcile(name)
        for instance in await self.runtime.instances():
            owner = instance.service or ""
            staged = instance.name.endswith(NEXT_SUFFIX)
            if owner in declared and not staged:
                continue
            with contextlib.suppress(ServiceBusy):  # an install or a swap is under way
                await self._remove_orphan(owner, instance)

    @work(ONE_PER_SERVICE_UNLESS_BUSY)
    async def _remove_orphan(self, name: str, instance: InstanceRef) -> None:
        _LOGGER.info("Removing orphaned container %s", instance.name)
        await self.runtime.remove(instance.id)
        self._events.publish(
            "service:orphan:removed", {"service": name, "container": instance.name}
        )

    @work(ONE_PER_SERVICE)
    async def _reconcile(self, name: str) -> None:
        row = self._store.get(name)  # read in its turn: an update may have just landed
        if row is None:
            return
        try:
            await self.ensure(row, run=None)
        except HomeiError as err:  # the runtime, or a configuration that cannot resolve
            self.last_error = f"{name}: {err.message}"
            _LOGGER.warning("Could not reconcile %s: %s", name, err.message)

    def request(self, name: str | None = None) -> int:
        """Ask for one service (or everything, with None) to be reconciled soon; the number
        of the pass that will do it (done once `passes` reaches it)."""
        if name is None:
            self._all_pending = True
        else:
            self._pending.add(name)
        self._wake.set()
        return self._taken + 1

    def start(self) -> None:
        self._worker = asyncio.create_task(self._work(), name="homei-reconciler")
        self.request()

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _work(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(BACKSTOP_INTERVAL):
                    await self._wake.wait()
            await asyncio.sleep(DEBOUNCE)  # let a burst of events settle into one pass
            self._wake.clear()
            self._taken += 1
            everything = self._all_pending or not self._pending
            names, self._pending, self._all_pending = self._pending, set(), False
            try:
                await self._pass(names if not everything else None)
                self.last_error = None
            except RuntimeFailure as err:
                _LOGGER.debug("Reconciling deferred: %s", err.message)
            except Exception:
                _LOGGER.exception("Reconciling failed")
            self.passes += 1

    @work(RUNTIME_ANSWERS)
    async def _pass(self, names: set[str] | None) -> None:
        """Reconcile `names`, or everything with None."""
        if names is None:
            await self.reconcile_all()
            return
        for name in sorted(names):
            await self._reconcile(name)
