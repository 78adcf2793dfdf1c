"""The services as backups see them: specs, folders and volumes, and a way to hold each
service still while its data is read or replaced.

While a service is held, so is its turn (`turns.ONE_PER_SERVICE`): the reconciler waits
instead of starting again a container that a backup stopped on purpose.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import msgspec

from homei.core.work import Workplace
from homei.services import graph
from homei.services.instance import InstanceState, InstanceStatus
from homei.services.policy import Policy
from homei.services.reconciler import Reconciler
from homei.services.spec import ServiceSpec, decode_spec, encode_spec
from homei.services.store import ServiceStore
from homei.services.turns import ONE_PER_SERVICE


class ServiceBackupData:
    """Implements the backup engine's `ServiceData` on the declared services."""

    def __init__(
        self, store: ServiceStore, reconciler: Reconciler, policy: Policy, workplace: Workplace
    ) -> None:
        self._store = store
        self._reconciler = reconciler
        self._runtime = reconciler.runtime
        self._policy = policy
        self._work = workplace

    def _spec(self, name: str) -> ServiceSpec:
        return self._store.declared(name).spec

    async def service_names(self) -> list[str]:
        return sorted(self._store.all())

    async def export_spec(self, name: str) -> bytes:
        return encode_spec(self._spec(name))

    async def data_dirs(self, name: str, include_data: bool) -> dict[str, Path]:
        spec = self._spec(name)
        policy = self._policy
        folder = policy.service_dir(name)
        found: dict[str, Path] = {"config": folder}
        if not include_data:
            return found
        for top, path in (await self._runtime.data_paths(spec)).items():
            found[top] = Path(path)
        for index, volume in enumerate(spec.volumes):
            if volume.is_named:
                mountpoint = await self._runtime.volume_path(volume.source)
                if mountpoint:
                    found[f"volumes/{volume.source}"] = Path(mountpoint)
                continue
            source = policy.bind_source(spec, volume.source)
            if folder not in (source, *source.parents):  # inside the folder: already there
                found[f"binds/{index}"] = source
        return found

    async def backup_mode(self, name: str) -> Literal["stop", "pause", "live"]:
        return self._spec(name).backup_mode

    @contextlib.asynccontextmanager
    async def quiesced(self, name: str, mode: str) -> AsyncIterator[None]:
        spec = self._spec(name)
        if mode == "live":
            yield
            return
        async with self._work.holding(ONE_PER_SERVICE, name):
            state = await self._state(name)
            running, paused = state.running, state.paused
            try:
                if running and not paused:
                    if mode == "pause":
                        await self._runtime.pause(name)
                    else:
                        await self._runtime.stop(name, spec.stop_timeout)
                yield
            finally:
                if running and not paused:
                    if mode == "pause":
                        await self._runtime.unpause(name)
                    else:
                        await self._runtime.start(name)

    @contextlib.asynccontextmanager
    async def stopped(self, names: list[str]) -> AsyncIterator[None]:
        known = [n for n in sorted(set(names)) if self._store.get(n) is not None]
        order = [n for n in graph.start_order(self._store.graph(), known) if n in known]
        async with self._work.holding(ONE_PER_SERVICE, *names):
            was_running = [n for n in order if (await self._state(n)).running]
            try:
                for name in reversed(was_running):
                    await self._runtime.stop(name, self._spec(name).stop_timeout)
                yield
            finally:
                for name in was_running:
                    row = self._store.get(name)
                    if row is not None:
                        await self._reconciler.ensure(row, run=True)
        for name in names:  # restored services that were not running come up per policy
            self._reconciler.request(name)

    async def import_spec(self, name: str, spec_json: bytes) -> None:
        spec = decode_spec(spec_json)
        if spec.name != name:
            spec = msgspec.structs.replace(spec, name=name)
        await self._store.put(spec)

    async def _state(self, name: str) -> InstanceState:
        return await self._runtime.inspect(name) or _ABSENT


_ABSENT = InstanceState("", "", InstanceStatus.EXITED)
