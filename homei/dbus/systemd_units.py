"""Units' properties kept current from systemd's `PropertiesChanged` signals.

The manager proxy reads a unit in full once (`LoadUnit`, then `GetAll` of its Unit and
Service interfaces), matches that unit's `PropertiesChanged` and from then on updates its
copy from the signals: state reads need no call. systemd does not signal its counters
(`MemoryCurrent`, `CPUUsageNSec`), so those are read on each call. A read that a signal
overtook is not kept (the next read fetches again); everything is dropped when systemd
leaves the bus.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from homei.dbus.bus import unwrap

UNIT_INTERFACE = "org.freedesktop.systemd1.Unit"
SERVICE_INTERFACE = "org.freedesktop.systemd1.Service"
# systemd's "not set" for 64-bit counters such as MemoryCurrent.
UNSET = 2**64 - 1
# What systemd signals changes of, per interface: property -> field of UnitProperties.
_SIGNALLED = {
    UNIT_INTERFACE: {
        "LoadState": "load_state",
        "ActiveState": "active_state",
        "SubState": "sub_state",
        "FragmentPath": "fragment_path",
        "ActiveEnterTimestamp": "active_enter_usec",
        "InactiveEnterTimestamp": "inactive_enter_usec",
    },
    SERVICE_INTERFACE: {
        "MainPID": "main_pid",
        "NRestarts": "n_restarts",
        "ExecMainStatus": "exec_main_status",
    },
}


class UnitProperties(msgspec.Struct, frozen=True):
    """What Homei reads of one unit."""

    name: str
    load_state: str = "not-found"
    active_state: str = "inactive"
    sub_state: str = "dead"
    main_pid: int = 0
    memory_current: int = 0
    cpu_usage_nsec: int = 0
    n_restarts: int = 0
    fragment_path: str = ""
    need_daemon_reload: bool = False
    exec_main_status: int = 0
    active_enter_usec: int = 0
    inactive_enter_usec: int = 0

    @property
    def exists(self) -> bool:
        """systemd found a unit file for it."""
        return self.load_state not in ("not-found", "")


def counter(value: Any) -> int:
    """A 64-bit counter, 0 when systemd has none."""
    number = int(value or 0)
    return 0 if number == UNSET else number


def _field_value(field: str, value: Any) -> Any:
    if field.endswith("_usec"):
        return counter(value)
    if field in ("main_pid", "n_restarts", "exec_main_status"):
        return int(value)
    return str(value)


class UnitCache:
    """The units read so far, by name, updated from their signals."""

    def __init__(self) -> None:
        self._units: dict[str, UnitProperties] = {}
        self._paths: dict[str, str] = {}  # object path -> unit name
        self._changes: dict[str, int] = {}  # signals seen per unit, to spot overtaken reads
        #: Called with (before, after) when a signal changes a unit's ActiveState.
        self.state_listeners: list[Callable[[UnitProperties, UnitProperties], None]] = []

    def path_of(self, name: str) -> str | None:
        """The object path of a unit read before."""
        return next((path for path, unit in self._paths.items() if unit == name), None)

    def get(self, name: str) -> UnitProperties | None:
        """The unit as the signals left it, or None when it is not held."""
        return self._units.get(name)

    def watch(self, path: str, name: str) -> int:
        """Start following `path`; a mark to hand to `keep` with what is then read."""
        self._paths[path] = name
        return self._changes.get(name, 0)

    def keep(self, props: UnitProperties, mark: int) -> None:
        """Hold a unit read in full, unless a signal came while it was being read."""
        if self._changes.get(props.name, 0) == mark:
            self._units[props.name] = props

    def clear(self) -> None:
        """Forget everything (systemd left the bus; matches stay with the connection)."""
        self._units.clear()
        self._changes.clear()

    def changed(self, path: str, interface: str, changed: Any, invalidated: Any) -> None:
        """Apply one `PropertiesChanged` signal."""
        name = self._paths.get(path)
        fields = _SIGNALLED.get(interface)
        if name is None or fields is None:
            return
        self._changes[name] = self._changes.get(name, 0) + 1
        before = self._units.get(name)
        if before is None:
            return
        if any(prop in fields for prop in invalidated):
            self._units.pop(name, None)  # no value given: read again next time
            return
        values = unwrap(changed)
        update = {fields[k]: _field_value(fields[k], v) for k, v in values.items() if k in fields}
        if not update:
            return
        after = msgspec.structs.replace(before, **update)
        self._units[name] = after
        if after.active_state != before.active_state:
            for listener in self.state_listeners:
                listener(before, after)
