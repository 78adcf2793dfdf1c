"""RAUC's `de.pengutronix.rauc.Installer`, as a typed proxy.

The proxy follows RAUC's name on the bus: when RAUC starts, restarts or stops,
`NameOwnerChanged` tells us, and the property cache is read again with one
`GetAll` and kept current from `PropertiesChanged`. Nobody polls. Signals are
subscribed once, before the first call, so a `Completed` can never be missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from homei.dbus.bus import (
    DBUS_NAME,
    PROPERTIES,
    DBusCallError,
    add_match,
    call,
    name_owner,
    unwrap,
)

if TYPE_CHECKING:
    from dbus_fast import Message, Variant
    from dbus_fast.aio import MessageBus

_LOGGER = logging.getLogger(__name__)

SERVICE = "de.pengutronix.rauc"
PATH = "/"
INSTALLER = "de.pengutronix.rauc.Installer"


class RaucUnavailable(Exception):
    """RAUC is not on the bus (not installed, not running, or restarting)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """RAUC's `Progress` property: percentage, message, nesting depth."""

    percentage: int = 0
    message: str = ""
    depth: int = 0


@dataclass(frozen=True, slots=True)
class SlotStatus:
    """One slot as `GetSlotStatus` describes it; `details` keeps every key RAUC sent."""

    name: str
    slot_class: str
    device: str
    type: str
    bootname: str | None
    state: str
    boot_status: str | None
    sha256: str | None
    size: int | None
    installed_timestamp: str | None
    installed_count: int | None
    bundle_version: str | None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dbus(cls, name: str, info: dict[str, Any]) -> SlotStatus:
        """From one `(sa{sv})` entry."""
        info = unwrap(info)

        def get(*keys: str) -> Any:
            for key in keys:
                if key in info:
                    return info[key]
            return None

        return cls(
            name=name,
            slot_class=str(get("class") or name.split(".")[0]),
            device=str(get("device") or ""),
            type=str(get("type") or ""),
            bootname=get("bootname"),
            state=str(get("state") or "inactive"),
            boot_status=get("boot-status"),
            sha256=get("sha256", "installed.sha256"),
            size=get("size", "installed.size"),
            installed_timestamp=get("installed.timestamp"),
            installed_count=get("installed.count"),
            bundle_version=get("bundle.version"),
            details=info,
        )


ProgressListener = Callable[[Progress], None]


class RaucInstaller:
    """RAUC's installer on one bus connection."""

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus
        self._owner: str | None = None
        self._properties: dict[str, Any] = {}
        self._methods: frozenset[str] = frozenset()
        self._completed: asyncio.Future[int] | None = None
        self._progress_listeners: list[ProgressListener] = []
        self._availability = asyncio.Event()
        self._refresh: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe to RAUC's signals and its name, then read its state if it runs."""
        self._bus.add_message_handler(self._on_message)
        await add_match(
            self._bus,
            f"type='signal',sender='{DBUS_NAME}',interface='{DBUS_NAME}',"
            f"member='NameOwnerChanged',arg0='{SERVICE}'",
        )
        await add_match(
            self._bus,
            f"type='signal',sender='{SERVICE}',interface='{INSTALLER}',member='Completed'",
        )
        await add_match(
            self._bus,
            f"type='signal',sender='{SERVICE}',interface='{PROPERTIES}',"
            f"member='PropertiesChanged',path='{PATH}'",
        )
        owner = await name_owner(self._bus, SERVICE)
        if owner is not None:
            await self._appeared(owner)

    @property
    def is_available(self) -> bool:
        """True while RAUC owns its name on the bus."""
        return self._owner is not None

    async def wait_available(self, timeout: float) -> None:
        """Wait until RAUC is on the bus."""
        async with asyncio.timeout(timeout):
            await self._availability.wait()

    def on_progress(self, listener: ProgressListener) -> None:
        """Call `listener` whenever RAUC's `Progress` changes."""
        self._progress_listeners.append(listener)

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

    def has_method(self, name: str) -> bool:
        """True when the running RAUC offers `name` (newer RAUCs add methods)."""
        return name in self._methods

    # Methods.

    async def install_bundle(
        self, path: str, *, ignore_compatible: bool = False, timeout: float = 3600.0
    ) -> None:
        """Install a bundle and wait for RAUC's `Completed`; raises `InstallFailed` with
        RAUC's `LastError` when RAUC reports a failure."""
        self._require()
        loop = asyncio.get_running_loop()
        self._completed = loop.create_future()
        from dbus_fast import Variant

        args: dict[str, Variant] = {}
        if ignore_compatible:
            args["ignore-compatible"] = Variant("b", True)
        try:
            await self._call("InstallBundle", "sa{sv}", [path, args])
            async with asyncio.timeout(timeout):
                result = await self._completed
        finally:
            self._completed = None
        if result != 0:
            error = await self._read_last_error()
            raise InstallFailed(error or f"RAUC reported failure ({result})", result)

    async def mark(self, state: str, slot: str = "booted") -> tuple[str, str]:
        """Mark a slot (`booted`, `other` or a name) `good`, `bad` or `active`; RAUC's
        answer: the slot it marked and its message."""
        slot_name, message = await self._call("Mark", "ss", [state, slot])
        return str(slot_name), str(message)

    async def slot_status(self) -> list[SlotStatus]:
        """Every slot RAUC knows."""
        (slots,) = await self._call("GetSlotStatus")
        return [SlotStatus.from_dbus(name, info) for name, info in slots]

    async def primary(self) -> str | None:
        """The slot the bootloader will boot next, if the backend can tell."""
        if not self.has_method("GetPrimary"):
            return None
        try:
            (primary,) = await self._call("GetPrimary")
        except DBusCallError as err:
            _LOGGER.debug("GetPrimary failed: %s", err)
            return None
        return str(primary)

    async def info(self, path: str) -> tuple[str, str]:
        """A bundle's compatible and version, checked (signature included) without installing."""
        if self.has_method("InspectBundle"):
            (result,) = await self._call("InspectBundle", "sa{sv}", [path, {}])
            update = unwrap(result).get("update", {})
            return str(update.get("compatible", "")), str(update.get("version", ""))
        compatible, version = await self._call("Info", "s", [path])
        return str(compatible), str(version)

    # Internals.

    def _require(self) -> None:
        if self._owner is None:
            raise RaucUnavailable("RAUC is not running on the system bus")

    async def _call(
        self, member: str, signature: str = "", body: list[Any] | None = None
    ) -> list[Any]:
        self._require()
        try:
            return await call(self._bus, SERVICE, PATH, INSTALLER, member, signature, body or [])
        except DBusCallError as err:
            if err.name in (
                "org.freedesktop.DBus.Error.ServiceUnknown",
                "org.freedesktop.DBus.Error.NameHasNoOwner",
            ):
                raise RaucUnavailable("RAUC is not running on the system bus") from err
            raise

    async def _read_last_error(self) -> str:
        with contextlib.suppress(DBusCallError):
            (value,) = await call(
                self._bus, SERVICE, PATH, PROPERTIES, "Get", "ss", [INSTALLER, "LastError"]
            )
            self._properties["LastError"] = unwrap(value)
        return self.last_error

    async def _appeared(self, owner: str) -> None:
        self._owner = owner
        try:
            (values,) = await call(self._bus, SERVICE, PATH, PROPERTIES, "GetAll", "s", [INSTALLER])
            self._properties = unwrap(values)
            self._methods = await self._introspect_methods()
        except DBusCallError as err:
            _LOGGER.warning("RAUC appeared but could not be read: %s", err)
            return
        self._availability.set()
        _LOGGER.info(
            "RAUC is on the bus (%s): compatible %s, booted from %s",
            owner,
            self.compatible,
            self.boot_slot,
        )

    async def _introspect_methods(self) -> frozenset[str]:
        node = await self._bus.introspect(SERVICE, PATH)
        for interface in node.interfaces:
            if interface.name == INSTALLER:
                return frozenset(method.name for method in interface.methods)
        return frozenset()

    def _gone(self) -> None:
        self._owner = None
        self._availability.clear()
        if self._completed is not None and not self._completed.done():
            self._completed.set_exception(RaucUnavailable("RAUC left the bus during the install"))
        _LOGGER.warning("RAUC left the system bus")

    def _on_message(self, message: Message) -> None:
        from dbus_fast import MessageType

        if message.message_type != MessageType.SIGNAL:
            return
        if message.member == "NameOwnerChanged" and message.interface == DBUS_NAME:
            name, _, new_owner = message.body
            if name != SERVICE:
                return
            if self._owner is not None:
                self._gone()
            if new_owner:
                self._refresh = asyncio.create_task(self._appeared(new_owner))
            return
        if message.sender != self._owner or message.path != PATH:
            return
        if message.interface == INSTALLER and message.member == "Completed":
            if self._completed is not None and not self._completed.done():
                self._completed.set_result(int(message.body[0]))
        elif message.interface == PROPERTIES and message.member == "PropertiesChanged":
            interface, changed, invalidated = message.body
            if interface != INSTALLER:
                return
            self._properties.update(unwrap(changed))
            for name in invalidated:
                self._properties.pop(name, None)
            if "Progress" in changed:
                progress = self.progress
                for listener in self._progress_listeners:
                    listener(progress)


class InstallFailed(Exception):
    """RAUC reported a failed installation; the message is RAUC's own reason."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
