"""In-process publish/subscribe of typed events, with a bounded queue per subscriber.

Publishing never waits: a subscriber whose queue is full is marked overflowed and
dropped, so one slow WebSocket client can never slow the daemon down.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import msgspec

from homei.core.clock import now_iso

_LOGGER = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 256


class Event(msgspec.Struct, frozen=True):
    """Something that happened: `service:started`, `task:progress`, `container.die`, ..."""

    type: str
    data: dict[str, Any]
    timestamp: str
    seq: int

    def as_dict(self) -> dict[str, Any]:
        """The wire shape of 000 and 001: type, data, timestamp (plus a sequence number)."""
        return {"type": self.type, "data": self.data, "timestamp": self.timestamp, "seq": self.seq}


class Subscription(msgspec.Struct, eq=False):
    """One consumer's view of the bus; iterate it or call `get`."""

    patterns: tuple[str, ...]
    queue: asyncio.Queue[Event]
    overflowed: bool = False
    closed: asyncio.Event = msgspec.field(default_factory=asyncio.Event)

    def wants(self, event_type: str) -> bool:
        """True when the event matches one of the subscription's glob patterns."""
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.patterns)

    async def get(self) -> Event:
        """The next event; raises `SubscriptionClosed` once dropped or detached."""
        if self.overflowed and self.queue.empty():
            raise SubscriptionClosed
        getter = asyncio.ensure_future(self.queue.get())
        closer = asyncio.ensure_future(self.closed.wait())
        try:
            done, _ = await asyncio.wait({getter, closer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (getter, closer):
                if not waiter.done():
                    waiter.cancel()
        if getter in done:
            return getter.result()
        raise SubscriptionClosed

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            try:
                yield await self.get()
            except SubscriptionClosed:
                return


class SubscriptionClosed(Exception):
    """The subscription ended: the subscriber fell behind (`overflowed`) or was detached."""


class EventBus:
    """Fan-out of events to subscribers; `publish` is synchronous and never blocks."""

    def __init__(
        self,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        check: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self._queue_size = queue_size
        # In development, each event is held against the registry (core/event_types.py).
        self._check = check
        self._subscriptions: set[Subscription] = set()
        self._seq = itertools.count(1)
        self.published = 0
        self.dropped_subscribers = 0

    @property
    def subscriber_count(self) -> int:
        """How many consumers are attached now."""
        return len(self._subscriptions)

    def publish(self, event_type: str, data: dict[str, Any] | None = None) -> Event:
        """Deliver an event to every interested subscriber."""
        if self._check is not None:
            try:
                self._check(event_type, data or {})
            except ValueError as err:
                _LOGGER.warning("%s", err)
        event = Event(event_type, data or {}, now_iso(), next(self._seq))
        self.published += 1
        for subscription in list(self._subscriptions):
            if not subscription.wants(event_type) or subscription.overflowed:
                continue
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscription.overflowed = True
                subscription.closed.set()
                self._subscriptions.discard(subscription)
                self.dropped_subscribers += 1
                _LOGGER.warning(
                    "Dropped an event subscriber that fell %d events behind", self._queue_size
                )
        return event

    def subscribe(
        self, patterns: Iterable[str] = ("*",), queue_size: int | None = None
    ) -> Subscription:
        """Attach a consumer for the event types matching `patterns` (globs)."""
        subscription = Subscription(
            tuple(patterns) or ("*",), asyncio.Queue(maxsize=queue_size or self._queue_size)
        )
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Detach a consumer; safe to call twice."""
        self._subscriptions.discard(subscription)
        subscription.closed.set()

    def close(self) -> None:
        """Detach everyone, waking their readers."""
        for subscription in list(self._subscriptions):
            self.unsubscribe(subscription)
