"""logind's `Reboot`, the one call Homei needs from it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homei.dbus.bus import call

if TYPE_CHECKING:
    from dbus_fast.aio import MessageBus

SERVICE = "org.freedesktop.login1"
PATH = "/org/freedesktop/login1"
MANAGER = "org.freedesktop.login1.Manager"


async def reboot(bus: MessageBus, *, interactive: bool = False) -> None:
    """Ask logind to reboot the machine (systemd then stops every unit in order)."""
    await call(bus, SERVICE, PATH, MANAGER, "Reboot", "b", [interactive])
