"""The base of Homei's typed D-Bus proxies: one object of one service, followed on the bus.

A proxy follows its service's well-known name: `NameOwnerChanged` says when the service
starts, restarts or stops, and each time it appears the property cache is read again
with one `GetAll` and then kept current from `PropertiesChanged`. Nobody polls. Signals
are matched once, in `start`, before any call; `expect_signal` is opened before the call
whose answer comes later as a signal, so that answer can never be missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from homei.dbus.bus import DBUS_NAME, PROPERTIES, DBusCallError, add_match, call, name_owner, unwrap

if TYPE_CHECKING:
    from dbus_fast import Message
    from dbus_fast.aio import MessageBus

_LOGGER = logging.getLogger(__name__)

#: Errors that mean "the service is not on the bus", not "the service refused".
_GONE_ERRORS = frozenset(
    {
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NameHasNoOwner",
    }
)
#: Reading a service that has just taken its name is retried this often, this far apart.
_READ_ATTEMPTS = 5
_READ_RETRY_S = 0.2


class ServiceUnavailable(Exception):
    """The service is not on the bus (not installed, not running, or restarting)."""


class SignalWait:
    """One signal expected after a call; `result` waits for its body."""

    def __init__(self, future: asyncio.Future[list[Any]]) -> None:
        self._future = future

    async def result(self, timeout: float) -> list[Any]:
        """The signal's body, once it arrives; `TimeoutError` after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self._future)


class DBusProxy:
    """One object of one D-Bus service on one bus connection."""

    SERVICE: ClassVar[str]
    PATH: ClassVar[str]
    INTERFACE: ClassVar[str]
    #: Signals of INTERFACE the proxy listens to (beyond `PropertiesChanged`).
    SIGNALS: ClassVar[tuple[str, ...]] = ()
    #: Raised by calls while the service is away; subclasses name their own.
    unavailable: ClassVar[type[Exception]] = ServiceUnavailable

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus
        self._owner: str | None = None
        self._properties: dict[str, Any] = {}
        self._methods: frozenset[str] = frozenset()
        self._availability = asyncio.Event()
        self._waiters: dict[str, list[asyncio.Future[list[Any]]]] = {}
        self._reading: asyncio.Task[None] | None = None
        self._watching: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Match the service's name and signals, then read its state if it runs."""
        self._bus.add_message_handler(self._on_message)
        self._watching = asyncio.create_task(
            self._watch_bus(), name=f"homei-dbus-watch-{self.SERVICE}"
        )
        await add_match(
            self._bus,
            f"type='signal',sender='{DBUS_NAME}',interface='{DBUS_NAME}',"
            f"member='NameOwnerChanged',arg0='{self.SERVICE}'",
        )
        for member in self.SIGNALS:
            await add_match(
                self._bus,
                f"type='signal',sender='{self.SERVICE}',interface='{self.INTERFACE}',"
                f"member='{member}',path='{self.PATH}'",
            )
        await add_match(
            self._bus,
            f"type='signal',sender='{self.SERVICE}',interface='{PROPERTIES}',"
            f"member='PropertiesChanged',path='{self.PATH}'",
        )
        owner = await name_owner(self._bus, self.SERVICE)
        if owner is not None and self._owner is None:
            self._owner = owner
            await self._read(owner)

    def close(self) -> None:
        """Stop following the service (the connection itself belongs to the caller)."""
        self._bus.remove_message_handler(self._on_message)
        for task in (self._reading, self._watching):
            if task is not None:
                task.cancel()
        self._vanished()

    @property
    def is_available(self) -> bool:
        """True while the service owns its name and its state has been read."""
        return self._availability.is_set()

    async def wait_available(self, timeout: float) -> None:
        """Wait until the service is on the bus and read."""
        async with asyncio.timeout(timeout):
            await self._availability.wait()

    def has_method(self, name: str) -> bool:
        """True when the running service offers `name` (newer versions add methods)."""
        return name in self._methods

    async def call(self, member: str, signature: str = "", body: Sequence[Any] = ()) -> list[Any]:
        """Call a method of INTERFACE; `unavailable` when the service is away."""
        if self._owner is None:
            raise self.unavailable(f"{self.SERVICE} is not on the bus")
        try:
            return await call(
                self._bus, self.SERVICE, self.PATH, self.INTERFACE, member, signature, body
            )
        except DBusCallError as err:
            if err.name in _GONE_ERRORS:
                raise self.unavailable(f"{self.SERVICE} is not on the bus") from err
            raise

    async def read_property(self, name: str) -> Any:
        """Read one property from the service now, updating the cache."""
        (value,) = await call(
            self._bus, self.SERVICE, self.PATH, PROPERTIES, "Get", "ss", [self.INTERFACE, name]
        )
        self._properties[name] = unwrap(value)
        return self._properties[name]

    @contextlib.asynccontextmanager
    async def expect_signal(self, member: str) -> AsyncIterator[SignalWait]:
        """Listen for the next `member` signal; open it before the call that causes it."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(member, [])
        waiters.append(future)
        try:
            yield SignalWait(future)
        finally:
            waiters.remove(future)
            future.cancel()

    # Hooks for subclasses.

    def properties_changed(self, names: frozenset[str]) -> None:
        """Called after the cache took in a `PropertiesChanged`."""

    # Internals.

    async def _read(self, owner: str) -> None:
        for attempt in range(1, _READ_ATTEMPTS + 1):
            try:
                (values,) = await call(
                    self._bus, self.SERVICE, self.PATH, PROPERTIES, "GetAll", "s", [self.INTERFACE]
                )
                methods = await self._introspect_methods()
            except DBusCallError as err:
                # A service can take its name a moment before its objects answer.
                _LOGGER.debug("Reading %s failed (attempt %d): %s", self.SERVICE, attempt, err)
                await asyncio.sleep(_READ_RETRY_S * attempt)
                if self._owner != owner:
                    return
                continue
            if self._owner != owner:
                return
            self._properties, self._methods = unwrap(values), methods
            self._availability.set()
            _LOGGER.info("%s is on the bus (%s)", self.SERVICE, owner)
            return
        _LOGGER.warning("%s appeared but could not be read", self.SERVICE)

    async def _introspect_methods(self) -> frozenset[str]:
        node = await self._bus.introspect(self.SERVICE, self.PATH)
        for interface in node.interfaces:
            if interface.name == self.INTERFACE:
                return frozenset(method.name for method in interface.methods)
        return frozenset()

    async def _watch_bus(self) -> None:
        # A dead bus sends no NameOwnerChanged: its end is the service's end, for us.
        with contextlib.suppress(Exception):
            await self._bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
        self._vanished()

    def _vanished(self) -> None:
        was_available = self._availability.is_set()
        self._owner = None
        self._availability.clear()
        for waiters in self._waiters.values():
            for future in waiters:
                if not future.done():
                    future.set_exception(self.unavailable(f"{self.SERVICE} left the bus"))
        if was_available:
            _LOGGER.warning("%s left the bus", self.SERVICE)

    def _owner_changed(self, new_owner: str) -> None:
        if self._owner is not None:
            self._vanished()
        if self._reading is not None:
            self._reading.cancel()
            self._reading = None
        if new_owner:
            self._owner = new_owner
            self._reading = asyncio.create_task(
                self._read(new_owner), name=f"homei-dbus-read-{self.SERVICE}"
            )

    def _on_message(self, message: Message) -> None:
        from dbus_fast import MessageType

        if message.message_type != MessageType.SIGNAL:
            return
        if message.member == "NameOwnerChanged" and message.interface == DBUS_NAME:
            name, _, new_owner = message.body
            if name == self.SERVICE:
                self._owner_changed(new_owner)
            return
        if self._owner is None or message.sender != self._owner or message.path != self.PATH:
            return
        if message.interface == PROPERTIES and message.member == "PropertiesChanged":
            interface, changed, invalidated = message.body
            if interface != self.INTERFACE:
                return
            self._properties.update(unwrap(changed))
            for name in invalidated:
                self._properties.pop(name, None)
            self.properties_changed(frozenset(changed) | frozenset(invalidated))
        elif message.interface == self.INTERFACE and message.member is not None:
            for future in self._waiters.get(message.member, ()):
                if not future.done():
                    future.set_result(list(message.body))
