"""Keeps Docker equal to the declared services.

At start-up, whenever the engine comes back, on every event of a managed container
and once a minute as a backstop, each service's container is compared with its spec:
a missing one is created, one that drifted (changed by hand, or made from an older
spec) is recreated, the restart policy decides whether a stopped one runs again, an
`enabled: false` service is kept stopped, and managed containers that no service
declares are removed. Containers without Homei's label are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from homei.core.events import EventBus
from homei.docker.containers import SERVICE_LABEL
from homei.docker.engine import DockerError
from homei.docker.runtime import NEXT_SUFFIX, DockerRuntime, container_config, drift
from homei.services.locks import ServiceLocks
from homei.services.spec import ServiceSpec
from homei.services.store import Declared, ServiceStore

_LOGGER = logging.getLogger(__name__)

BACKSTOP_INTERVAL = 60.0
DEBOUNCE = 0.2


def wants_running(declared: Declared, state: dict[str, Any]) -> bool | None:
    """Whether a container should run now: True, False, or None for "leave it as it is"."""
    if not declared.should_run:
        return False
    policy = declared.spec.restart_policy
    if policy in ("always", "unless-stopped"):
        return True
    if policy == "on-failure":
        return True if state.get("Running") else state.get("ExitCode", 0) != 0
    return None


class Reconciler:
    """Makes containers match specs, one service at a time under that service's lock."""

    def __init__(
        self, runtime: DockerRuntime, store: ServiceStore, locks: ServiceLocks, events: EventBus
    ) -> None:
        self.runtime = runtime
        self._store = store
        self._locks = locks
        self._events = events
        self._pending: set[str] = set()
        self._all_pending = False
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self.last_error: str | None = None

    # --- one service -----------------------------------------------------------------
    async def ensure(self, declared: Declared, *, run: bool | None) -> dict[str, Any]:
        """The service's container made from its spec, running if `run` (None: as the
        restart policy says). Call with the service's lock held. Returns its inspection."""
        spec = declared.spec
        expected = container_config(spec, self.runtime.policy)
        inspected = await self.runtime.inspect(spec.name)
        if inspected is not None and not _is_ours(inspected, spec.name):
            raise DockerError(
                f"A container named '{spec.name}' exists and is not Homei's",
                {"container": spec.name},
            )
        if inspected is not None:
            differences = drift(expected, inspected)
            if differences:
                _LOGGER.warning("Service %s drifted (%s): recreating", spec.name, differences)
                self._events.publish("service:drift", {"service": spec.name, "fields": differences})
                await self.runtime.remove(inspected["Id"])
                inspected = None
        if inspected is None:
            await self.runtime.ensure_networks(spec)
            await self.runtime.ensure_volumes(spec)
            await self.runtime.create(spec, spec.name)
            inspected = await self.runtime.inspect(spec.name) or {}
        state = inspected.get("State") or {}
        should = run if run is not None else wants_running(declared, state)
        if should and not state.get("Running"):
            await self.runtime.start(spec.name)
            self._events.publish("service:started", {"service": spec.name})
        elif should is False and state.get("Running"):
            await self.runtime.stop(spec.name, spec.stop_timeout)
            self._events.publish("service:stopped", {"service": spec.name})
        return await self.runtime.inspect(spec.name) or inspected

    async def swap(self, old: Declared, new: ServiceSpec, *, run: bool) -> None:
        """Replace the container of `old` with one made from `new`: the new container is
        created first; if it cannot start, it goes and the old one runs again as before."""
        staged = f"{new.name}{NEXT_SUFFIX}"
        await self.runtime.remove(staged)  # a leftover of an interrupted swap
        await self.runtime.ensure_networks(new)
        await self.runtime.ensure_volumes(new)
        await self.runtime.create(new, staged)
        current = await self.runtime.inspect(new.name)
        was_running = bool(current and (current.get("State") or {}).get("Running"))
        try:
            if current is not None and was_running:
                await self.runtime.stop(current["Id"], old.spec.stop_timeout)
            if run:
                await self.runtime.start(staged)
        except BaseException:
            await self.runtime.remove(staged)
            if current is not None and was_running:
                await self.runtime.start(current["Id"])
            raise
        if current is not None:
            await self.runtime.remove(current["Id"])
        await self.runtime.rename(staged, new.name)

    async def remove(self, name: str) -> None:
        """Every container of the service (its volumes stay unless asked for separately)."""
        for row in await self.runtime.containers(name):
            await self.runtime.remove(row["Id"])

    # --- everything ------------------------------------------------------------------
    async def reconcile_all(self) -> None:
        """Every declared service, then the orphans."""
        declared = self._store.all()
        for name in sorted(declared):
            await self._reconcile(name)
        for row in await self.runtime.containers():
            labels = row.get("Labels") or {}
            owner = labels.get(SERVICE_LABEL, "")
            container_name = str((row.get("Names") or [""])[0]).lstrip("/")
            staged = container_name.endswith(NEXT_SUFFIX)
            if owner in declared and not staged:
                continue
            lock = self._locks.get(owner)
            if lock.locked():
                continue  # an install or a swap of that service is under way
            async with lock:
                _LOGGER.info("Removing orphaned container %s", container_name)
                await self.runtime.remove(row["Id"])
                self._events.publish(
                    "service:orphan:removed", {"service": owner, "container": container_name}
                )

    async def _reconcile(self, name: str) -> None:
        async with self._locks.get(name):
            row = self._store.get(name)  # read under the lock: an update may have just landed
            if row is None:
                return
            try:
                await self.ensure(row, run=None)
            except DockerError as err:
                self.last_error = f"{name}: {err.message}"
                _LOGGER.warning("Could not reconcile %s: %s", name, err.message)

    def request(self, name: str | None = None) -> None:
        """Ask for one service (or everything, with None) to be reconciled soon."""
        if name is None:
            self._all_pending = True
        else:
            self._pending.add(name)
        self._wake.set()

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
            everything = self._all_pending or not self._pending
            names, self._pending, self._all_pending = self._pending, set(), False
            try:
                await self.runtime.engine.require()
                if everything:
                    await self.reconcile_all()
                else:
                    for name in sorted(names):
                        await self._reconcile(name)
                self.last_error = None
            except DockerError as err:
                _LOGGER.debug("Reconciling deferred: %s", err.message)
            except Exception:
                _LOGGER.exception("Reconciling failed")


def _is_ours(inspected: dict[str, Any], name: str) -> bool:
    labels = (inspected.get("Config") or {}).get("Labels") or {}
    return labels.get(SERVICE_LABEL) == name and labels.get("io.homei.managed") == "true"
