"""One lock per service: an install, an update, a control action and the reconciler never
work on the same service at once."""

from __future__ import annotations

import asyncio


class ServiceLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def get(self, name: str) -> asyncio.Lock:
        """The lock of `name`, created on first use."""
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = asyncio.Lock()
        return lock

    def forget(self, name: str) -> None:
        """Drop the lock of a deleted service (if nobody holds it)."""
        lock = self._locks.get(name)
        if lock is not None and not lock.locked():
            del self._locks[name]
