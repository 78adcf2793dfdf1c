"""systemd as the units runtime reaches it: its bus connection and its manager proxy."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from homei.dbus.bus import SystemBus
from homei.dbus.systemd import SystemdManager
from homei.dbus.systemd_units import UnitProperties
from homei.services.instance import RuntimeUnavailable

if TYPE_CHECKING:
    from dbus_fast.aio import MessageBus

_LOGGER = logging.getLogger(__name__)


class SystemdGone(RuntimeUnavailable):
    """systemd does not answer: 503 until it does again."""

    code = "SYSTEMD_ERROR"


class Systemd:
    """systemd's manager on a bus that is dialled again whenever it goes away."""

    def __init__(self, address: str | None) -> None:
        self._bus = SystemBus(address or None)
        self._manager: SystemdManager | None = None
        #: Called when systemd is (back) on the bus, and with (unit, result) per ended job.
        self.connect_listeners: list[Callable[[], None]] = []
        self.job_listeners: list[Callable[[str, str], None]] = []
        #: Called with (before, after) when a unit Homei read changes its ActiveState.
        self.state_listeners: list[Callable[[UnitProperties, UnitProperties], None]] = []
        self._bus.on_connect(self._connected)

    async def start(self, first_attempt: float = 1.0) -> None:
        """Dial the bus (in the background if it is not there yet)."""
        await self._bus.start(first_attempt=first_attempt)

    async def stop(self) -> None:
        """Hang up."""
        if self._manager is not None:
            self._manager.close()
        await self._bus.stop()

    @property
    def available(self) -> bool:
        """systemd answers on the bus."""
        manager = self._manager
        return self._bus.bus is not None and manager is not None and manager.is_available

    @property
    def manager(self) -> SystemdManager:
        """The manager, when systemd answers; `SystemdGone` (503) otherwise."""
        manager = self._manager
        if self._bus.bus is None or manager is None or not manager.is_available:
            reason = self._bus.last_error or "org.freedesktop.systemd1 is not on the bus"
            raise SystemdGone("systemd is not reachable", {"reason": reason})
        return manager

    async def _connected(self, bus: MessageBus) -> None:
        if self._manager is not None:
            self._manager.close()
        manager = SystemdManager(bus)
        manager.job_listeners.append(self._job_ended)
        manager.units.state_listeners.append(self._state_changed)
        manager.on_available(self._available)
        await manager.start()
        self._manager = manager

    def _available(self) -> None:
        for listener in self.connect_listeners:
            listener()

    def _job_ended(self, unit: str, result: str) -> None:
        for listener in self.job_listeners:
            listener(unit, result)

    def _state_changed(self, before: UnitProperties, after: UnitProperties) -> None:
        for listener in self.state_listeners:
            listener(before, after)
