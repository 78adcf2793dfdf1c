"""Request quotas per client, and the back-off that slows down password guessing."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence

import msgspec

PRUNE_EVERY = 1024
# Counters are kept per client; past this many, the expired ones go at once and then the
# oldest windows, so that a flood of new addresses cannot grow the daemon without bound.
MAX_COUNTERS = 20_000
MAX_LOGIN_ADDRESSES = 10_000


class Quota(msgspec.Struct, frozen=True):
    """At most `limit` requests per window for one counter key."""

    key: str
    limit: int


class Verdict(msgspec.Struct, frozen=True):
    """The outcome of one request against its quotas, for the `X-RateLimit-*` headers."""

    allowed: bool
    limit: int
    remaining: int
    reset: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        """The rate-limit headers every response carries."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimiter:
    """Fixed windows per counter key; a request passes only if each of its quotas has room."""

    def __init__(self, window: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self._window = window
        self._clock = clock
        self._counters: dict[str, list[float]] = {}
        self._hits = 0

    def set_window(self, window: float) -> None:
        """Count in windows of `window` seconds from now on (the current ones run out)."""
        self._window = window

    def hit(self, quotas: Sequence[Quota]) -> Verdict:
        """Count one request against `quotas`, unless one of them is exhausted."""
        now = self._clock()
        self._hits += 1
        if self._hits % PRUNE_EVERY == 0 or len(self._counters) >= MAX_COUNTERS:
            self._prune(now)
        states: list[tuple[Quota, list[float]]] = []
        for quota in quotas:
            counter = self._counters.get(quota.key)
            if counter is None or counter[0] + self._window <= now:
                counter = [now, 0.0]
                self._counters.pop(quota.key, None)  # to the end: the newest window
                self._counters[quota.key] = counter
            states.append((quota, counter))
        exhausted = [(q, c) for q, c in states if c[1] >= q.limit]
        if exhausted:
            quota, counter = max(exhausted, key=lambda s: s[1][0])
            reset = counter[0] + self._window
            return Verdict(False, quota.limit, 0, math.ceil(reset), max(1, math.ceil(reset - now)))
        for _, counter in states:
            counter[1] += 1
        if not states:
            return Verdict(True, 0, 0, math.ceil(now + self._window), 0)
        quota, counter = min(states, key=lambda s: s[0].limit - s[1][1])
        return Verdict(
            True,
            quota.limit,
            int(quota.limit - counter[1]),
            math.ceil(counter[0] + self._window),
            0,
        )

    def __len__(self) -> int:
        return len(self._counters)

    def _prune(self, now: float) -> None:
        expired = [key for key, (start, _) in self._counters.items() if start + self._window <= now]
        for key in expired:
            del self._counters[key]
        excess = len(self._counters) - MAX_COUNTERS // 2
        if len(self._counters) >= MAX_COUNTERS and excess > 0:
            # Dicts keep insertion order and a new window re-inserts its key: the first
            # ones are the oldest windows.
            for key in list(itertools.islice(self._counters, excess)):
                del self._counters[key]


class LoginThrottle:
    """After `free_attempts` failures from one address, each further attempt must wait
    twice as long as the one before (capped), until a success or a quiet period."""

    def __init__(
        self,
        free_attempts: int = 5,
        max_delay: float = 300.0,
        forget_after: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = free_attempts
        self._max_delay = max_delay
        self._forget_after = forget_after
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}

    def retry_after(self, address: str) -> int:
        """Seconds the address must still wait before its next attempt; 0 when it may try."""
        entry = self._failures.get(address)
        if entry is None:
            return 0
        count, last = entry
        now = self._clock()
        if now - last > self._forget_after:
            del self._failures[address]
            return 0
        if count < self._free:
            return 0
        delay = min(self._max_delay, 2.0 ** (count - self._free))
        return max(0, math.ceil(last + delay - now))

    def failed(self, address: str) -> None:
        """Record a failed attempt."""
        count, _ = self._failures.pop(address, (0, 0.0))
        self._failures[address] = (count + 1, self._clock())  # at the end: the newest
        if len(self._failures) > MAX_LOGIN_ADDRESSES:
            cutoff = self._clock() - self._forget_after
            kept = [(a, e) for a, e in self._failures.items() if e[1] > cutoff]
            # Still too many within the quiet period: the oldest failures go first.
            self._failures = dict(kept[-(MAX_LOGIN_ADDRESSES // 2) :])

    def __len__(self) -> int:
        return len(self._failures)

    def succeeded(self, address: str) -> None:
        """Forget an address's failures."""
        self._failures.pop(address, None)
