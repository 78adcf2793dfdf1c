"""The bounded, expiring cache that every client-keyed cache of the daemon uses."""

from __future__ import annotations

from homei.core.bounded import ExpiringCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_at_their_deadline():
    clock = Clock()
    cache: ExpiringCache[str, int] = ExpiringCache(10, clock=clock)
    cache.put("a", 1, clock.now + 5)
    assert cache.get("a") == 1
    clock.now += 5
    assert cache.get("a") is None and len(cache) == 0


def test_the_least_recently_used_entry_makes_room():
    clock = Clock()
    cache: ExpiringCache[int, int] = ExpiringCache(3, clock=clock)
    for key in range(3):
        cache.put(key, key, clock.now + 60)
    assert cache.get(0) == 0  # used: now the newest
    cache.put(3, 3, clock.now + 60)
    assert cache.get(1) is None
    assert [cache.get(k) for k in (0, 2, 3)] == [0, 2, 3]
    for key in range(10_000):
        cache.put(key, key, clock.now + 60)
    assert len(cache) == 3


def test_a_default_tells_a_cached_none_from_an_absent_entry():
    clock = Clock()
    missing = object()
    cache: ExpiringCache[str, int | None] = ExpiringCache(10, clock=clock)
    cache.put("gone", None, clock.now + 5)  # e.g. a user known not to exist
    assert cache.get("gone", missing) is None
    assert cache.get("never", missing) is missing
    clock.now += 5
    assert cache.get("gone", missing) is missing
