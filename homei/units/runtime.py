"""Services as systemd units: the service model's `Runtime` for `runtime: "systemd"`.

An instance is a unit file `homei-svc-<instance>.service` in the configured unit folder,
written atomically and hardened (see `unit_file`); systemd is driven over D-Bus, and every
job is awaited. An instance's id is its instance name. The unit's state, restarts, memory
and CPU come from the unit's properties; what it was made with from its file. Reading a
unit beyond its state (usage, logs, commands, settling) is `reads.UnitReads`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal as signals
from pathlib import Path

import msgspec

from homei.core.atomic import write_file_atomic
from homei.journal.reader import Journal
from homei.services.drift import expected
from homei.services.instance import (
    SERVICE_LABEL,
    ImageMissing,
    InstanceRef,
    InstanceState,
    NativeState,
    RuntimeFailure,
)
from homei.services.policy import Policy
from homei.services.runtime import Progress
from homei.services.spec import NATIVE_IMAGE_PREFIX, ServiceSpec
from homei.units import unit_file
from homei.units.artifacts import ArtifactStore
from homei.units.reads import PORT_LABEL, UnitReads, read_unit
from homei.units.status import CpuMeter, instance_state
from homei.units.systemd import Systemd

_LOGGER = logging.getLogger(__name__)


class UnitsRuntime(UnitReads):
    """Writes, starts, stops and removes the units of native services."""

    def __init__(
        self,
        systemd: Systemd,
        policy: Policy,
        unit_dir: Path,
        artifacts: ArtifactStore,
        exec_roots: tuple[Path, ...],
        job_timeout: float,
        settle: tuple[float, float] = (3.0, 30.0),
        journal: Journal | None = None,
        state_root: Path = Path("/var/lib/private"),
    ) -> None:
        self.systemd = systemd
        self._journal = journal  # where units' logs are read; None: they have none
        self._policy = policy
        self.unit_dir = unit_dir
        self.artifacts = artifacts
        self._exec_roots = exec_roots
        self._timeout = job_timeout
        self._settle_time, self._settle_timeout = settle
        self._state_root = state_root  # where systemd keeps DynamicUser= units' state
        self._known: set[str] = set()  # instances with a unit file, as far as Homei knows
        self._cpu = CpuMeter()

    async def load(self) -> None:
        """Learn which instances have unit files (before the first reconcile pass)."""
        self._known = set(await asyncio.to_thread(self._scan))

    def owns(self, ref: str) -> bool:
        """Whether `ref` names one of this runtime's instances."""
        return ref in self._known

    @staticmethod
    def owns_image(image: str) -> bool:
        """Whether `image` is a native service's program."""
        return image.startswith(NATIVE_IMAGE_PREFIX)

    async def require(self) -> None:
        self.systemd.manager  # noqa: B018  (raises 503 while systemd does not answer)

    # --- what an instance needs ----------------------------------------------------------
    async def ensure_image(self, image: str, progress: Progress) -> None:
        reason = await self.image_fetchable(image)
        if reason is not None:
            raise ImageMissing(reason, {"image": image})

    async def image_present(self, image: str) -> bool:
        return await self.image_fetchable(image) is None

    async def image_fetchable(self, image: str) -> str | None:
        try:
            program = self.program(image)
        except RuntimeFailure as err:
            return err.message
        if not await asyncio.to_thread(_executable, program):
            return f"'{image.removeprefix(NATIVE_IMAGE_PREFIX)}' is not on the device"
        return None

    def program(self, image: str) -> Path:
        """The program a native service's `image` names, checked to be under its root."""
        kind, _, rest = image.removeprefix(NATIVE_IMAGE_PREFIX).partition("/")
        if kind == "artifact":
            name, _, version = rest.partition("/")
            return self.artifacts.program(name, version)
        path = Path("/" + rest)
        if kind == "exec" and ".." not in path.parts:
            for root in self._exec_roots:
                if path.is_relative_to(root):
                    return path
        raise RuntimeFailure(
            f"'{path}' is under no folder native services may run programs from",
            {"exec": str(path)},
        )

    async def prepare(self, spec: ServiceSpec) -> None:
        return None

    async def release(self, spec: ServiceSpec, keep: set[str]) -> None:
        return None

    async def volume_path(self, name: str) -> str | None:
        return None

    async def remove_volume(self, name: str) -> None:
        return None

    async def remove_data(self, spec: ServiceSpec) -> None:
        """The unit stopped and its state directory cleaned by systemd (`CleanUnit`)."""
        unit = unit_file.unit_name(spec.name)
        if spec.name not in self._known:
            return
        manager = self.systemd.manager
        await self._call(manager.stop_unit(unit, self._timeout))
        await self._call(manager.clean_unit(unit, ["state"], self._timeout))

    async def data_paths(self, spec: ServiceSpec) -> dict[str, str]:
        """The unit's state folder (StateDirectory=; DynamicUser= keeps it under private/)."""
        return {"state": str(self._state_root / unit_file.state_directory(spec.name))}

    async def published_ports(self) -> dict[tuple[str, int], str]:
        ports: dict[tuple[str, int], str] = {}
        for instance in sorted(self._known):
            state = await self.inspect(instance)
            port = state.applied.labels.get(PORT_LABEL) if state else None
            if state is not None and state.running and port:
                ports[("0.0.0.0", int(port))] = instance  # noqa: S104
        return ports

    # --- instances ---------------------------------------------------------------------
    async def create(self, spec: ServiceSpec, instance: str) -> str:
        manager = self.systemd.manager  # no unit file is written while systemd is away
        program = self.program(spec.image)
        want = expected(spec, self._policy)
        labels = dict(want.labels)
        if spec.port is not None:
            labels[PORT_LABEL] = str(spec.port)
        applied = msgspec.structs.replace(want, labels=labels)
        text = unit_file.render(spec, str(program), applied)
        path = self.unit_dir / unit_file.unit_name(instance)
        await asyncio.to_thread(write_file_atomic, path, text.encode(), 0o644)
        self._known.add(instance)
        await self._call(manager.daemon_reload(self._timeout))
        await self._call(manager.enable([unit_file.unit_name(instance)]))
        return instance

    async def inspect(self, ref: str) -> InstanceState | None:
        path = self.unit_dir / unit_file.unit_name(ref)
        found = await asyncio.to_thread(read_unit, path)
        if found is None:
            return None
        # Its state only (as the unit's signals keep it): the counters are `usage`'s.
        unit = unit_file.unit_name(ref)
        props = await self._call(self.systemd.manager.unit(unit, counters=False))
        applied = found.applied
        if not found.intact:
            # Edited by hand: what it runs is no longer known, so it drifted.
            applied = msgspec.structs.replace(applied, image="")
        native = NativeState(
            active_state=props.active_state,
            sub_state=props.sub_state,
            pid=props.main_pid,
            unit_hash=found.written_hash or None,
        )
        return msgspec.structs.replace(instance_state(ref, props, applied), native=native)

    async def instances(self, service: str | None = None) -> list[InstanceRef]:
        refs = []
        for instance in sorted(self._known):
            path = self.unit_dir / unit_file.unit_name(instance)
            found = await asyncio.to_thread(read_unit, path)
            if found is None:
                continue
            owner = found.applied.labels.get(SERVICE_LABEL)
            if service is None or owner == service:
                refs.append(InstanceRef(instance, instance, owner))
        return refs

    async def start(self, ref: str) -> None:
        manager = self.systemd.manager
        await self._call(manager.reset_failed(unit_file.unit_name(ref)))
        await self._call(manager.start_unit(unit_file.unit_name(ref), self._timeout))

    async def stop(self, ref: str, timeout: int | None = None) -> None:
        await self._call(
            self.systemd.manager.stop_unit(unit_file.unit_name(ref), self._timeout + (timeout or 0))
        )

    async def kill(self, ref: str) -> None:
        manager = self.systemd.manager
        await self._call(manager.kill_unit(unit_file.unit_name(ref), signals.SIGKILL, "all"))
        await self.stop(ref, 0)

    async def signal(self, ref: str, signal: str) -> None:
        number = signals.Signals[signal].value
        await self._call(self.systemd.manager.kill_unit(unit_file.unit_name(ref), number))

    async def pause(self, ref: str) -> None:
        await self.signal(ref, "SIGSTOP")

    async def unpause(self, ref: str) -> None:
        await self.signal(ref, "SIGCONT")

    async def rename(self, ref: str, name: str) -> None:
        # A unit cannot be renamed while it runs: the file moves and the new unit starts.
        source = self.unit_dir / unit_file.unit_name(ref)
        state = await self.inspect(ref)
        text = await asyncio.to_thread(source.read_bytes)
        await self.remove(ref)
        await asyncio.to_thread(
            write_file_atomic, self.unit_dir / unit_file.unit_name(name), text, 0o644
        )
        self._known.add(name)
        manager = self.systemd.manager
        await self._call(manager.daemon_reload(self._timeout))
        await self._call(manager.enable([unit_file.unit_name(name)]))
        if state is not None and state.running:
            await self.start(name)

    async def remove(self, ref: str) -> None:
        unit = unit_file.unit_name(ref)
        path = self.unit_dir / unit
        if not await asyncio.to_thread(path.exists):
            self._known.discard(ref)
            return
        manager = self.systemd.manager
        await self._call(manager.stop_unit(unit, self._timeout))
        await self._call(manager.disable([unit]))
        await asyncio.to_thread(path.unlink, missing_ok=True)
        self._known.discard(ref)
        self._cpu.forget(ref)
        await self._call(manager.daemon_reload(self._timeout))
        await self._call(manager.reset_failed(unit))

    def _scan(self) -> list[str]:
        if not self.unit_dir.is_dir():
            return []
        found = []
        for path in self.unit_dir.iterdir():
            instance = unit_file.instance_of(path.name)
            if instance is not None and read_unit(path) is not None:
                found.append(instance)
        return found


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
