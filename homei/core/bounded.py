"""A small least-recently-used map with expiry, for caches keyed by what clients send."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from homei.core.clock import monotonic

K = TypeVar("K")
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """At most `size` entries, each until its own deadline; the least recently used one
    makes room for a new one, so a client sending endless new keys never grows it."""

    def __init__(self, size: int, clock: Callable[[], float] = monotonic) -> None:
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, default: V | None = None) -> V | None:
        """The value, or `default` when absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return default
        if entry[0] <= self._clock():
            del self._entries[key]
            return default
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: K, value: V, deadline: float) -> None:
        """Remember `value` until `deadline` (on this cache's clock)."""
        self._entries[key] = (deadline, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        """Forget one entry."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()
