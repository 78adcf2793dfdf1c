"""The system bus connection, with the few daemon calls every proxy needs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from homei.core.lazy import import_module

if TYPE_CHECKING:
    from dbus_fast.aio import MessageBus

_LOGGER = logging.getLogger(__name__)

DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
PROPERTIES = "org.freedesktop.DBus.Properties"


class DBusCallError(Exception):
    """A D-Bus method call answered with an error."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(f"{name}: {text}" if text else name)
        self.name = name
        self.text = text


async def connect(address: str | None = None) -> MessageBus:
    """Connect to the system bus (or to `address`, e.g. a development device's private bus)."""
    # Imported on first use: dbus-fast costs start-up time, and the bus is dialled in the
    # background.
    await import_module("dbus_fast.aio")
    from dbus_fast import BusType
    from dbus_fast.aio import MessageBus

    bus = MessageBus(bus_address=address or None, bus_type=BusType.SYSTEM)
    return await bus.connect()


async def call(
    bus: MessageBus,
    destination: str,
    path: str,
    interface: str,
    member: str,
    signature: str = "",
    body: Sequence[Any] = (),
) -> list[Any]:
    """Call a method; its reply's body, or `DBusCallError` with the error's name and text."""
    from dbus_fast import Message, MessageType

    reply = await bus.call(
        Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=list(body),
        )
    )
    if reply is None:
        raise DBusCallError("org.freedesktop.DBus.Error.NoReply", "no reply")
    if reply.message_type == MessageType.ERROR:
        text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
        raise DBusCallError(reply.error_name or "unknown", text)
    return list(reply.body)


async def add_match(bus: MessageBus, rule: str) -> None:
    """Ask the bus daemon to route matching signals to us (done before acting on them)."""
    await call(bus, DBUS_NAME, DBUS_PATH, DBUS_NAME, "AddMatch", "s", [rule])


async def name_owner(bus: MessageBus, name: str) -> str | None:
    """The unique name owning `name`, or None when nobody does."""
    try:
        (owner,) = await call(bus, DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetNameOwner", "s", [name])
    except DBusCallError as err:
        if err.name == "org.freedesktop.DBus.Error.NameHasNoOwner":
            return None
        raise
    return str(owner)


def unwrap(value: Any) -> Any:
    """Plain Python values from D-Bus variants, recursively."""
    if hasattr(value, "signature") and hasattr(value, "value"):
        return unwrap(value.value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [unwrap(v) for v in value]
    return value


Connected = Callable[["MessageBus"], Awaitable[None]]


class SystemBus:
    """A system bus connection that comes back by itself: when the bus goes away, it is
    dialled again with back-off, and every registered `on_connect` runs on the new one.

    The back-off stops at a second: dialling a local socket that is not there costs next
    to nothing, and the bus daemon's return is then noticed within that second."""

    def __init__(
        self, address: str | None = None, *, retry: float = 0.25, max_retry: float = 1.0
    ) -> None:
        self._address = address or None
        self._retry = retry
        self._max_retry = max_retry
        self._callbacks: list[Connected] = []
        self._bus: MessageBus | None = None
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None

    @property
    def bus(self) -> MessageBus | None:
        """The live connection, or None while there is none."""
        return self._bus if self._bus is not None and self._bus.connected else None

    def on_connect(self, callback: Connected) -> None:
        """Run `callback` on every (re)connection."""
        self._callbacks.append(callback)

    async def start(self, first_attempt: float = 2.0) -> None:
        """Try to connect now (for at most `first_attempt` s), and keep trying in the background."""
        tried = asyncio.Event()
        self._task = asyncio.create_task(self._run(tried), name="homei-system-bus")
        if first_attempt > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(first_attempt):
                    await tried.wait()

    async def _run(self, tried: asyncio.Event) -> None:
        delay = self._retry
        while True:
            try:
                bus = await connect(self._address)
            except (OSError, ValueError, EOFError) as err:
                tried.set()
                if self.last_error != str(err):
                    _LOGGER.warning("No system bus (%s); retrying", err)
                self.last_error = str(err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry)
                continue
            self._bus, self.last_error, delay = bus, None, self._retry
            for callback in self._callbacks:
                try:
                    await callback(bus)
                except Exception:  # one proxy failing must not take the others down
                    _LOGGER.exception("Setting up a D-Bus proxy failed")
            tried.set()
            try:
                await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
            except Exception as err:  # the bus dying is why we are here; say how, then redial
                _LOGGER.debug("System bus connection ended: %r", err)
            self._bus = None
            _LOGGER.warning("Lost the system bus; reconnecting")

    async def stop(self) -> None:
        """Disconnect and stop reconnecting."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None
