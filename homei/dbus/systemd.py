"""systemd's `org.freedesktop.systemd1.Manager` and its units, as a typed proxy.

Every job (start, stop, restart, reload) is awaited: a collector of `JobRemoved` signals is
opened before the call, so a job that ends before its reply is read is not missed, and the
wait is bounded. systemd only sends job signals to clients that `Subscribe`d; the proxy
subscribes again whenever systemd comes back (a new owner of its name).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from homei.core.errors import SystemdUnavailable
from homei.dbus.bus import PROPERTIES, DBusCallError, add_match, call, unwrap
from homei.dbus.proxy import DBusProxy
from homei.dbus.systemd_units import (
    SERVICE_INTERFACE,
    UNIT_INTERFACE,
    UnitCache,
    UnitProperties,
    counter,
)

if TYPE_CHECKING:
    from dbus_fast import Message
    from dbus_fast.aio import MessageBus

_LOGGER = logging.getLogger(__name__)

JOB_TIMEOUT = 90.0
_CLEAN_POLL = 0.05


class JobFailed(Exception):
    """A job ended with another result than `done` (failed, timeout, dependency, ...)."""

    def __init__(self, unit: str, result: str) -> None:
        super().__init__(f"{unit}: job {result}")
        self.unit = unit
        self.result = result


class _Jobs:
    """`JobRemoved` results gathered while a call is in flight."""

    def __init__(self) -> None:
        self.results: dict[str, str] = {}
        self.changed = asyncio.Event()
        self.gone = False

    def add(self, job: str, result: str) -> None:
        self.results[job] = result
        self.changed.set()

    async def result(self, job: str, timeout: float) -> str:
        async with asyncio.timeout(timeout):
            while job not in self.results:
                if self.gone:
                    raise SystemdUnavailable("systemd left the bus during a job")
                self.changed.clear()
                await self.changed.wait()
        return self.results[job]


class SystemdManager(DBusProxy):
    """systemd's manager on one bus connection."""

    SERVICE = "org.freedesktop.systemd1"
    PATH = "/org/freedesktop/systemd1"
    INTERFACE = "org.freedesktop.systemd1.Manager"
    SIGNALS = ("JobRemoved",)
    unavailable: ClassVar[type[Exception]] = SystemdUnavailable

    def __init__(self, bus: MessageBus) -> None:
        super().__init__(bus)
        self._collectors: list[_Jobs] = []
        self._subscribed: str | None = None
        #: Called with (unit, result) for every job that ends, Homei's or anyone's.
        self.job_listeners: list[Callable[[str, str], None]] = []
        self._available_listeners: list[Callable[[], None]] = []
        #: Units read so far, kept current from their PropertiesChanged signals.
        self.units = UnitCache()

    def on_available(self, listener: Callable[[], None]) -> None:
        """Call `listener` each time systemd is (back) on the bus, subscribed and read."""
        self._available_listeners.append(listener)

    async def start(self) -> None:
        """Follow systemd on the bus and collect its job signals."""
        self._bus.add_message_handler(self._on_job)
        await super().start()

    def close(self) -> None:
        """Stop following systemd."""
        self._bus.remove_message_handler(self._on_job)
        super().close()

    @property
    def version(self) -> str:
        """systemd's version, e.g. `252.22-1~deb12u1`."""
        return str(self._properties.get("Version", ""))

    # --- jobs ---

    async def start_unit(self, unit: str, timeout: float = JOB_TIMEOUT) -> None:
        """Start `unit` and wait for the job."""
        await self._job("StartUnit", unit, timeout)

    async def stop_unit(self, unit: str, timeout: float = JOB_TIMEOUT) -> None:
        """Stop `unit` and wait for the job."""
        await self._job("StopUnit", unit, timeout)

    async def restart_unit(self, unit: str, timeout: float = JOB_TIMEOUT) -> None:
        """Restart `unit` and wait for the job."""
        await self._job("RestartUnit", unit, timeout)

    async def reload_unit(self, unit: str, timeout: float = JOB_TIMEOUT) -> None:
        """Reload `unit` (its ExecReload) and wait for the job."""
        await self._job("ReloadUnit", unit, timeout)

    async def start_transient(
        self, unit: str, properties: list[Any], timeout: float = JOB_TIMEOUT
    ) -> None:
        """Start a transient unit made of `properties` ((name, Variant) pairs) and wait for
        the job (`fail` if a unit of that name exists)."""
        body = [unit, "fail", properties, []]
        await self._job("StartTransientUnit", unit, timeout, "ssa(sv)a(sa(sv))", body)

    async def kill_unit(self, unit: str, signal: int, who: str = "main") -> None:
        """Send `signal` to the unit's processes (`main` or `all`)."""
        await self.call("KillUnit", "ssi", [unit, who, signal])

    async def clean_unit(self, unit: str, what: list[str], timeout: float = JOB_TIMEOUT) -> None:
        """Remove a stopped unit's folders (`state`, `cache`, `logs`, ...) and wait until
        systemd has (it cleans in the background, the unit in `maintenance` meanwhile)."""
        await self.call("CleanUnit", "sas", [unit, what])
        for _ in range(max(1, int(timeout / _CLEAN_POLL))):
            if (await self.unit(unit, fresh=True)).active_state != "maintenance":
                return
            await asyncio.sleep(_CLEAN_POLL)  # no signal says the cleaning is over
        raise JobFailed(unit, "timeout")

    async def reset_failed(self, unit: str) -> None:
        """Forget a unit's failed state (and its start rate limit)."""
        with contextlib.suppress(DBusCallError):
            await self.call("ResetFailedUnit", "s", [unit])

    # --- unit files ---

    async def daemon_reload(self, timeout: float = JOB_TIMEOUT) -> None:
        """`systemctl daemon-reload`: systemd reads the unit files again."""
        await self._ensure_subscribed()
        async with asyncio.timeout(timeout):
            await self.call("Reload")
        self.units.clear()  # unit files came or went: read each unit in full again

    async def enable(self, units: list[str]) -> None:
        """Enable unit files (their [Install] links, under /etc)."""
        await self.call("EnableUnitFiles", "asbb", [units, False, True])

    async def disable(self, units: list[str]) -> None:
        """Disable unit files."""
        await self.call("DisableUnitFiles", "asb", [units, False])

    # --- units ---

    async def unit(
        self, name: str, *, fresh: bool = False, counters: bool = True
    ) -> UnitProperties:
        """A unit's properties: its state as its signals left it (read in full, and its
        signals matched, the first time or with `fresh`), its counters read now (without
        `counters`, as last read: then a unit held makes no call)."""
        held = None if fresh else self.units.get(name)
        path = self.units.path_of(name)
        if held is not None and path is not None:
            service = {}
            if counters and name.endswith(".service"):
                memory, cpu = await asyncio.gather(
                    self._get(path, SERVICE_INTERFACE, "MemoryCurrent"),
                    self._get(path, SERVICE_INTERFACE, "CPUUsageNSec"),
                )
                service = {"memory_current": counter(memory), "cpu_usage_nsec": counter(cpu)}
            return msgspec.structs.replace(held, **service)
        (path,) = await self.call("LoadUnit", "s", [name])
        if self.units.path_of(name) != path:
            await add_match(
                self._bus,
                f"type='signal',sender='{self.SERVICE}',interface='{PROPERTIES}',"
                f"member='PropertiesChanged',path='{path}'",
            )
        mark = self.units.watch(path, name)
        values = await self._get_all(path, UNIT_INTERFACE)
        service = {}
        if name.endswith(".service"):
            service = await self._get_all(path, SERVICE_INTERFACE)
        props = UnitProperties(
            name=name,
            load_state=str(values.get("LoadState", "")),
            active_state=str(values.get("ActiveState", "")),
            sub_state=str(values.get("SubState", "")),
            main_pid=int(service.get("MainPID", 0)),
            memory_current=counter(service.get("MemoryCurrent")),
            cpu_usage_nsec=counter(service.get("CPUUsageNSec")),
            n_restarts=int(service.get("NRestarts", 0)),
            fragment_path=str(values.get("FragmentPath", "")),
            exec_main_status=int(service.get("ExecMainStatus", 0)),
            active_enter_usec=counter(values.get("ActiveEnterTimestamp")),
            inactive_enter_usec=counter(values.get("InactiveEnterTimestamp")),
        )
        self.units.keep(props, mark)
        return props

    async def list_units(self, pattern: str) -> list[str]:
        """Names of loaded units matching a glob, e.g. `homei-svc-*.service`."""
        (units,) = await self.call("ListUnitsByPatterns", "asas", [[], [pattern]])
        return [str(entry[0]) for entry in units]

    # --- internals ---

    async def _get(self, path: str, interface: str, name: str) -> Any:
        if self._owner is None:
            raise self.unavailable(f"{self.SERVICE} is not on the bus")
        (value,) = await call(
            self._bus, self.SERVICE, path, PROPERTIES, "Get", "ss", [interface, name]
        )
        return unwrap(value)

    async def _get_all(self, path: str, interface: str) -> dict[str, Any]:
        if self._owner is None:
            raise self.unavailable(f"{self.SERVICE} is not on the bus")
        (values,) = await call(
            self._bus, self.SERVICE, path, PROPERTIES, "GetAll", "s", [interface]
        )
        return unwrap(values)  # type: ignore[no-any-return]

    async def subscribe(self) -> None:
        """Ask systemd for job and unit signals (again, after systemd came back)."""
        await self._ensure_subscribed()

    async def _ensure_subscribed(self) -> None:
        owner = self._owner
        if owner is not None and self._subscribed != owner:
            try:
                await self.call("Subscribe")
            except DBusCallError as err:
                # Two callers can race to subscribe the same connection: that is fine.
                if not err.name.endswith(".AlreadySubscribed"):
                    raise
            self._subscribed = owner

    async def _job(
        self,
        method: str,
        unit: str,
        timeout: float,
        signature: str = "ss",
        body: list[Any] | None = None,
    ) -> None:
        await self._ensure_subscribed()
        async with self._collect() as jobs:
            (job,) = await self.call(method, signature, body or [unit, "replace"])
            try:
                result = await jobs.result(str(job), timeout)
            except TimeoutError:
                raise JobFailed(unit, "timeout") from None
        if result != "done":
            raise JobFailed(unit, result)

    @contextlib.asynccontextmanager
    async def _collect(self) -> AsyncIterator[_Jobs]:
        jobs = _Jobs()
        self._collectors.append(jobs)
        try:
            yield jobs
        finally:
            self._collectors.remove(jobs)

    def _on_job(self, message: Message) -> None:
        if self._owner is None or message.sender != self._owner:
            return
        if message.member == "PropertiesChanged" and message.interface == PROPERTIES:
            self.units.changed(str(message.path), *message.body)
            return
        if message.member != "JobRemoved" or message.interface != self.INTERFACE:
            return
        _, job, unit, result = message.body
        for jobs in self._collectors:
            jobs.add(str(job), str(result))
        for listener in self.job_listeners:
            listener(str(unit), str(result))

    async def _read(self, owner: str) -> None:
        await super()._read(owner)
        if not self.is_available or self._owner != owner:
            return
        try:
            await self._ensure_subscribed()
        except (DBusCallError, SystemdUnavailable) as err:
            _LOGGER.warning("Subscribing to systemd's signals failed: %s", err)
        for listener in self._available_listeners:
            listener()

    def _vanished(self) -> None:
        self._subscribed = None
        self.units.clear()
        for jobs in self._collectors:
            jobs.gone = True
            jobs.changed.set()
        super()._vanished()
