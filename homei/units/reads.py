"""What the units runtime reads of its units beyond their state: whether one just started
stays up, resource use, logs and a command's exit status; and how a call to systemd fails
(`RuntimeFailure`, 503 `SYSTEMD_ERROR` while systemd does not answer)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from homei.core.errors import SystemdUnavailable
from homei.dbus.bus import DBusCallError
from homei.dbus.systemd import JobFailed
from homei.dbus.systemd_transient import run_command
from homei.journal.reader import Journal, JournalQuery, as_log_line
from homei.services.instance import RuntimeFailure, Usage
from homei.units import unit_file
from homei.units.status import CpuMeter, answers
from homei.units.systemd import Systemd, SystemdGone

_T = TypeVar("_T")
CALL_MARGIN = 5.0  # seconds a call may take beyond the job timeout it carries
PORT_LABEL = "io.homei.port"  # the port a native service listens on
_SETTLE_POLL = 0.2  # seconds between looks at a unit that is settling


class UnitReads:
    """The reading half of `UnitsRuntime` (which sets these attributes)."""

    systemd: Systemd
    unit_dir: Path
    _journal: Journal | None
    _cpu: CpuMeter
    _timeout: float
    _settle_time: float
    _settle_timeout: float

    async def settle(self, ref: str) -> None:
        """Wait until the unit has stayed active, unrestarted, for the settle time and its
        port answers: a `Type=exec` start job is done as soon as the program is running,
        even one that dies a moment later."""
        unit = unit_file.unit_name(ref)
        found = await asyncio.to_thread(read_unit, self.unit_dir / unit)
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


def read_unit(path: Path) -> unit_file.UnitFile | None:
    """A unit file of Homei's as found on disk; None when it is not there or not Homei's."""
    try:
        return unit_file.parse(path.read_text())
    except (FileNotFoundError, UnicodeDecodeError):
        return None
