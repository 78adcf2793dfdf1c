"""Services as systemd units: the service model's `Runtime` for `runtime: "systemd"`.

An instance is a unit file `homei-svc-<instance>.service` in the configured unit folder,
written atomically and hardened (see `unit_file`); systemd is driven over D-Bus, and every
job is awaited. An instance's id is its instance name. The unit's state, restarts, memory
and CPU come from the unit's properties; what it was made with from its file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal as signals
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import msgspec

from homei.core.atomic import write_file_atomic
from homei.core.errors import SystemdUnavailable
from homei.dbus.bus import DBusCallError
from homei.dbus.systemd import JobFailed
from homei.dbus.systemd_transient import run_command
from homei.journal.reader import Journal, JournalQuery, as_log_line
from homei.services.drift import expected
from homei.services.instance import (
    SERVICE_LABEL,
    ImageMissing,
    InstanceRef,
    InstanceState,
    NativeState,
    RuntimeFailure,
    Usage,
)
from homei.services.policy import Policy
from homei.services.runtime import Progress
from homei.services.spec import NATIVE_IMAGE_PREFIX, ServiceSpec
from homei.units import unit_file
from homei.units.artifacts import ArtifactStore
from homei.units.status import CpuMeter, answers, instance_state
from homei.units.systemd import Systemd, SystemdGone

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")
CALL_MARGIN = 5.0  # seconds a call may take beyond the job timeout it carries
PORT_LABEL = "io.homei.port"  # the port a native service listens on
_SETTLE_POLL = 0.2  # seconds between looks at a unit that is settling


class UnitsRuntime:
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
        found = await asyncio.to_thread(_read_unit, path)
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
            found = await asyncio.to_thread(_read_unit, path)
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

    async def settle(self, ref: str) -> None:
        """Wait until the unit has stayed active, unrestarted, for the settle time and its
        port answers: a `Type=exec` start job is done as soon as the program is running,
        even one that dies a moment later."""
        unit = unit_file.unit_name(ref)
        found = await asyncio.to_thread(_read_unit, self.unit_dir / unit)
        port = found.applied.labels.get(PORT_LABEL) if found else None
        loop = asyncio.get_running_loop()
        began = loop.time()
        first = await self._call(self.systemd.manager.unit(unit, counters=False))
        answered = port is None
        while True:
            props = await self._call(self.systemd.manager.unit(unit, counters=False))
            if props.active_state != "active" or props.n_restarts != first.n_restarts:
                raise RuntimeFailure(
                    f"'{ref}' did not stay running ({props.active_state}/{props.sub_state},"
                    f" exit status {props.exec_main_status})",
                    {"unit": unit, "active_state": props.active_state},
                )
            answered = answered or await answers(int(port or 0))
            elapsed = loop.time() - began
            if answered and elapsed >= self._settle_time:
                return
            if elapsed >= self._settle_timeout:
                raise RuntimeFailure(
                    f"'{ref}' does not answer on port {port}", {"unit": unit, "port": port}
                )
            await asyncio.sleep(_SETTLE_POLL)

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

    # --- reading and checking ------------------------------------------------------------
    async def exec(self, ref: str, command: list[str], timeout: float) -> int:
        """Run `command` beside the unit, `systemd-run --wait`-style: a transient service with
        the same hardening and the unit's /tmp (JoinsNamespaceOf=), but a dynamic user and
        process of its own; its exit status."""
        unit = unit_file.unit_name(ref)
        transient = f"homei-exec-{ref}-{secrets.token_hex(4)}.service"
        settings: dict[str, bool | int | str | list[str]] = {
            **unit_file.HARDENING_PROPERTIES,
            "JoinsNamespaceOf": [unit],
        }
        return await self._call(
            run_command(self.systemd.manager, transient, command, settings, timeout)
        )

    async def usage(self, ref: str, *, instant: bool = True) -> Usage:
        """`MemoryCurrent` and `CPUUsageNSec` read now; the CPU percent over half a second,
        or with `instant` since the previous reading at least `CpuMeter.MIN_SPAN` ago."""
        unit = unit_file.unit_name(ref)
        first = await self._call(self.systemd.manager.unit(unit))
        cpu_percent = self._cpu.percent(ref, first.cpu_usage_nsec) or 0.0
        if not instant:
            started = asyncio.get_running_loop().time()
            await asyncio.sleep(0.5)
            second = await self._call(self.systemd.manager.unit(unit))
            elapsed = asyncio.get_running_loop().time() - started
            used = max(0, second.cpu_usage_nsec - first.cpu_usage_nsec)
            cpu_percent = round(100.0 * used / (elapsed * 1e9), 2)
            first = second
        return Usage(
            cpu_total=first.cpu_usage_nsec,
            cpu_percent=cpu_percent,
            memory=first.memory_current,
            read_at=datetime.now(UTC).isoformat(),
        )

    async def logs(
        self, ref: str, *, tail: int, since: int | None, timestamps: bool, stream: str
    ) -> list[str]:
        # journald keeps one log per unit, not two streams: all of it is `stdout`.
        if self._journal is None or stream != "stdout":
            return []
        query = JournalQuery(unit=unit_file.unit_name(ref), lines=tail, since=since)
        entries = await self._journal.read(query)
        return [as_log_line(e, timestamps=timestamps) for e in entries]

    async def follow(
        self, ref: str, *, tail: int, since: int | None, timestamps: bool
    ) -> AsyncIterator[bytes]:
        if self._journal is None:
            return
        query = JournalQuery(unit=unit_file.unit_name(ref), lines=tail, since=since)
        async for entry in self._journal.follow(query):
            yield (as_log_line(entry, timestamps=timestamps) + "\n").encode()

    # --- helpers -------------------------------------------------------------------------
    async def _call(self, call: Awaitable[_T]) -> _T:
        try:
            # Bounded: a call cut off by systemd going away must not hold the service's turn.
            async with asyncio.timeout(self._timeout + CALL_MARGIN):
                return await call
        except TimeoutError:
            raise SystemdGone("systemd did not answer in time") from None
        except JobFailed as err:
            raise RuntimeFailure(
                f"systemd: {err}", {"unit": err.unit, "result": err.result}
            ) from None
        except DBusCallError as err:
            raise RuntimeFailure(f"systemd refused: {err.text or err.name}") from None
        except SystemdUnavailable as err:
            raise SystemdGone("systemd is not reachable", {"reason": str(err)}) from None

    def _scan(self) -> list[str]:
        if not self.unit_dir.is_dir():
            return []
        found = []
        for path in self.unit_dir.iterdir():
            instance = unit_file.instance_of(path.name)
            if instance is not None and _read_unit(path) is not None:
                found.append(instance)
        return found


def _read_unit(path: Path) -> unit_file.UnitFile | None:
    try:
        return unit_file.parse(path.read_text())
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
