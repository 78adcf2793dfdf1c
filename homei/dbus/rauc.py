"""RAUC's `de.pengutronix.rauc.Installer`, as a typed proxy on the proxy base.

The base follows RAUC's name on the bus and keeps the property cache current; this
module gives the installer its typed properties and methods.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from homei.dbus.bus import DBusCallError, unwrap
from homei.dbus.proxy import DBusProxy
from homei.dbus.rauc_status import Progress, SlotStatus

if TYPE_CHECKING:
    from dbus_fast import Variant
    from dbus_fast.aio import MessageBus

_LOGGER = logging.getLogger(__name__)


class RaucUnavailable(Exception):
    """RAUC is not on the bus (not installed, not running, or restarting)."""


class InstallFailed(Exception):
    """RAUC reported a failed installation; the message is RAUC's own reason."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


ProgressListener = Callable[[Progress], None]


class RaucInstaller(DBusProxy):
    """RAUC's installer on one bus connection."""

    SERVICE = "de.pengutronix.rauc"
    PATH = "/"
    INTERFACE = "de.pengutronix.rauc.Installer"
    SIGNALS = ("Completed",)
    unavailable: ClassVar[type[Exception]] = RaucUnavailable

    def __init__(self, bus: MessageBus) -> None:
        super().__init__(bus)
        self._progress_listeners: list[ProgressListener] = []

    def on_progress(self, listener: ProgressListener) -> None:
        """Call `listener` whenever RAUC's `Progress` changes."""
        self._progress_listeners.append(listener)

    def properties_changed(self, names: frozenset[str]) -> None:
        """Tell the progress listeners about a new `Progress`."""
        if "Progress" in names:
            progress = self.progress
            for listener in self._progress_listeners:
                listener(progress)

    # Properties, from the cache kept by PropertiesChanged.

    @property
    def operation(self) -> str:
        """`idle` or `installing`."""
        return str(self._properties.get("Operation", "idle"))

    @property
    def last_error(self) -> str:
        """The message of the last failed installation, or ''."""
        return str(self._properties.get("LastError", ""))

    @property
    def progress(self) -> Progress:
        """The current installation's progress."""
        value = self._properties.get("Progress")
        if not value:
            return Progress()
        percentage, message, depth = value
        return Progress(int(percentage), str(message), int(depth))

    @property
    def compatible(self) -> str:
        """The system's compatible string from `system.conf`."""
        return str(self._properties.get("Compatible", ""))

    @property
    def variant(self) -> str:
        """The system variant, if configured."""
        return str(self._properties.get("Variant", ""))

    @property
    def boot_slot(self) -> str:
        """The bootname of the slot the system booted from."""
        return str(self._properties.get("BootSlot", ""))

    # Methods.

    async def install_bundle(
        self, path: str, *, ignore_compatible: bool = False, timeout: float = 3600.0
    ) -> None:
        """Install a bundle and wait for RAUC's `Completed`; raises `InstallFailed` with
        RAUC's `LastError` when RAUC reports a failure."""
        from dbus_fast import Variant

        args: dict[str, Variant] = {}
        if ignore_compatible:
            args["ignore-compatible"] = Variant("b", True)
        async with self.expect_signal("Completed") as completed:
            await self.call("InstallBundle", "sa{sv}", [path, args])
            (result,) = await completed.result(timeout)
        if result != 0:
            error = await self._read_last_error()
            raise InstallFailed(error or f"RAUC reported failure ({result})", int(result))

    async def mark(self, state: str, slot: str = "booted") -> tuple[str, str]:
        """Mark a slot (`booted`, `other` or a name) `good`, `bad` or `active`; RAUC's
        answer: the slot it marked and its message."""
        slot_name, message = await self.call("Mark", "ss", [state, slot])
        return str(slot_name), str(message)

    async def slot_status(self) -> list[SlotStatus]:
        """Every slot RAUC knows."""
        (slots,) = await self.call("GetSlotStatus")
        return [SlotStatus.from_dbus(name, info) for name, info in slots]

    async def primary(self) -> str | None:
        """The slot the bootloader will boot next, if the backend can tell."""
        if not self.has_method("GetPrimary"):
            return None
        try:
            (primary,) = await self.call("GetPrimary")
        except DBusCallError as err:
            _LOGGER.debug("GetPrimary failed: %s", err)
            return None
        return str(primary)

    async def info(self, path: str) -> tuple[str, str]:
        """A bundle's compatible and version, checked (signature included) without installing."""
        if self.has_method("InspectBundle"):
            (result,) = await self.call("InspectBundle", "sa{sv}", [path, {}])
            update = unwrap(result).get("update", {})
            return str(update.get("compatible", "")), str(update.get("version", ""))
        compatible, version = await self.call("Info", "s", [path])
        return str(compatible), str(version)

    async def _read_last_error(self) -> str:
        try:
            await self.read_property("LastError")
        except DBusCallError as err:
            _LOGGER.debug("Reading LastError failed: %s", err)
        return self.last_error
