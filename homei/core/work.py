"""Work policies, stated once above the function they guard.

    @work(ONE_BACKUP_OR_RESTORE)
    async def create(self, request): ...

A rule says what a piece of work needs or may not overlap with: `OneAtATime` (for the
whole group, or per key such as a service's name; refusing or waiting for its turn),
`AtMost` (N runs in T seconds, per key), `Backoff` (each run waits longer after the last,
doubling, until forgotten), `Needs` (an async check that raises, such as
"Docker answers") and `RefuseWhile` (a condition, such as "an update installs").

The state behind the rules lives in a `Workplace` that the owner receives through its
constructor, so components that must not overlap share one by being handed the same one.
A claim that `lasts="task"` is kept until the task the call started has ended, however it
ends: finished, failed, or cancelled before or after its first step.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal, ParamSpec, Protocol, TypeVar

import msgspec

from homei.core.clock import monotonic
from homei.core.errors import HomeiError

P = ParamSpec("P")
R = TypeVar("R")
Refusal = Callable[[str | None], HomeiError]


class TaskWatch(Protocol):
    """What a workplace needs of the task manager: a call when a task has ended."""

    def when_finished(self, task_id: str, callback: Callable[[], None]) -> None: ...


class OneAtATime(msgspec.Struct, frozen=True):
    """One run at a time in group `name`, or one per value of argument `key`.

    With `busy`, a run that finds the group taken is refused with that error; without, it
    waits for its turn. `lasts="task"` keeps the claim until the task the call returns ends.
    """

    name: str
    key: str | None = None
    busy: Refusal | None = None
    lasts: Literal["call", "task"] = "call"


class AtMost(msgspec.Struct, frozen=True):
    """At most `calls` runs in any `period` seconds (per value of argument `key`);
    `refuse` is given the key and the seconds until the next run would be allowed."""

    name: str
    calls: int
    period: float
    refuse: Callable[[str | None, float], HomeiError]
    key: str | None = None


class Backoff(msgspec.Struct, frozen=True):
    """After a run, the next waits `first(owner)` seconds, twice that after the one after,
    and so on up to `cap(owner)` (per value of argument `key`) until `Workplace.forget`;
    `refuse` is given the key and the seconds until the next run would be allowed."""

    name: str
    first: Callable[[Any], float]
    cap: Callable[[Any], float]
    refuse: Callable[[str | None, float], HomeiError]
    key: str | None = None


class Needs(msgspec.Struct, frozen=True):
    """A precondition: `check(owner)` is awaited first and raises when it is not met."""

    check: Callable[[Any], Awaitable[object]]


class RefuseWhile(msgspec.Struct, frozen=True):
    """Refuse with `refusal(owner)` while `condition(owner)` holds."""

    condition: Callable[[Any], bool]
    refusal: Callable[[Any], HomeiError]


Rule = OneAtATime | AtMost | Backoff | Needs | RefuseWhile
Kept = OneAtATime | AtMost | Backoff  # the rules whose state a workplace keeps


class Claim:
    """A held turn of a `OneAtATime` group; releasing twice is harmless."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock: asyncio.Lock | None = lock

    def release(self) -> None:
        """Give the turn back."""
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()


class Workplace:
    """The state behind a set of work policies: which turns are held, when each ran."""

    def __init__(self, tasks: TaskWatch | None = None) -> None:
        self._tasks = tasks
        self._locks: dict[tuple[str, str | None], asyncio.Lock] = {}
        self._runs: dict[tuple[str, str | None], deque[float]] = {}
        # Per back-off: (runs so far, when the next may run).
        self._spacing: dict[tuple[str, str | None], tuple[int, float]] = {}
        # Who waits for a turn: a turn just released to a waiter is not free to a refuser.
        self._waiting: dict[tuple[str, str | None], int] = {}

    def is_held(self, rule: OneAtATime, key: str | None = None) -> bool:
        """True while someone holds `rule`'s turn (for `key`)."""
        lock = self._locks.get((rule.name, key))
        return lock is not None and lock.locked()

    async def claim(self, rule: OneAtATime, key: str | None = None) -> Claim:
        """Take `rule`'s turn: refused with `rule.busy` when taken, else waited for."""
        slot = (rule.name, key)
        lock = self._locks.get(slot)
        if lock is None:
            lock = self._locks[slot] = asyncio.Lock()
        if rule.busy is not None:
            if lock.locked() or self._waiting.get(slot):
                raise rule.busy(key)
            # Unlocked and nobody waiting: acquire() returns without yielding, so check and
            # take are one step and two callers cannot both pass the check.
            await lock.acquire()
            return Claim(lock)
        self._waiting[slot] = self._waiting.get(slot, 0) + 1
        try:
            await lock.acquire()
        finally:
            self._waiting[slot] -= 1
            if not self._waiting[slot]:
                del self._waiting[slot]
        return Claim(lock)

    @contextlib.asynccontextmanager
    async def holding(self, rule: OneAtATime, *keys: str) -> AsyncIterator[None]:
        """Hold `rule`'s turn for several keys at once, taken in sorted order (no deadlock)."""
        claims: list[Claim] = []
        try:
            for key in sorted(set(keys)):
                claims.append(await self.claim(rule, key))
            yield
        finally:
            for claim in reversed(claims):
                claim.release()

    def forget(self, rule: Kept, key: str) -> None:
        """Drop what is kept for `key` (a deleted service, a recovered one), unless its turn
        is held. A back-off starts over from its first wait; a wait under way still holds."""
        slot = (rule.name, key)
        lock = self._locks.get(slot)
        if lock is None or not (lock.locked() or self._waiting.get(slot)):
            self._locks.pop(slot, None)
            self._runs.pop(slot, None)
            spacing = self._spacing.pop(slot, None)
            if spacing is not None and spacing[1] > monotonic():
                self._spacing[slot] = (0, spacing[1])

    def count(self, rule: AtMost, key: str | None = None) -> None:
        """Record a run against `rule`'s budget; its refusal when the budget is spent."""
        now = monotonic()
        runs = self._runs.setdefault((rule.name, key), deque())
        while runs and runs[0] <= now - rule.period:
            runs.popleft()
        if len(runs) >= rule.calls:
            raise rule.refuse(key, runs[0] + rule.period - now)
        runs.append(now)

    def space(self, rule: Backoff, owner: object, key: str | None = None) -> float:
        """Record a run against `rule`'s back-off; the wait before the next one, or its
        refusal while the current wait lasts."""
        now = monotonic()
        runs, next_at = self._spacing.get((rule.name, key), (0, now))
        if now < next_at:
            raise rule.refuse(key, next_at - now)
        wait = min(rule.first(owner) * 2.0**runs, rule.cap(owner))
        self._spacing[(rule.name, key)] = (runs + 1, now + wait)
        return wait

    def hand_to_task(self, task_id: str, claims: list[Claim]) -> None:
        """Keep `claims` until task `task_id` has ended."""
        if self._tasks is None:
            raise RuntimeError("this workplace was given no task manager")

        def release() -> None:
            for claim in reversed(claims):
                claim.release()

        self._tasks.when_finished(task_id, release)


class Worker(Protocol):
    """An object whose methods carry stateful work policies: it has its workplace."""

    @property
    def workplace(self) -> Workplace: ...


def work(
    *rules: Rule,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Run the decorated method only as `rules` allow (in order: conditions, turns, then
    budgets). A method with a `lasts="task"` rule returns the task it started."""

    def decorate(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        signature = inspect.signature(func)
        for rule in rules:
            key = getattr(rule, "key", None)
            if key is not None and key not in signature.parameters:
                raise TypeError(f"{func.__qualname__} has no argument '{key}' to key a rule by")

        stateful = any(isinstance(rule, Kept) for rule in rules)

        def key_of(rule: Kept, bound: inspect.BoundArguments) -> str | None:
            return None if rule.key is None else str(bound.arguments[rule.key])

        @functools.wraps(func)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            bound = signature.bind(*args, **kwargs)
            owner: Worker = args[0]  # type: ignore[assignment]
            for rule in rules:
                if isinstance(rule, Needs):
                    await rule.check(owner)
                elif isinstance(rule, RefuseWhile) and rule.condition(owner):
                    raise rule.refusal(owner)
            # Only rules that keep state need the owner's workplace.
            place = owner.workplace if stateful else None
            call_claims: list[Claim] = []
            task_claims: list[Claim] = []
            try:
                for rule in rules:
                    if isinstance(rule, OneAtATime):
                        assert place is not None
                        claim = await place.claim(rule, key_of(rule, bound))
                        (task_claims if rule.lasts == "task" else call_claims).append(claim)
                # Counted once the turn is ours: a run refused as busy spends no budget.
                for rule in rules:
                    if isinstance(rule, AtMost):
                        assert place is not None
                        place.count(rule, key_of(rule, bound))
                    elif isinstance(rule, Backoff):
                        assert place is not None
                        place.space(rule, owner, key_of(rule, bound))
                result = await func(*args, **kwargs)
                if task_claims:
                    task_id = getattr(result, "id", None)
                    if not isinstance(task_id, str):
                        raise TypeError(f"{func.__qualname__} must return the task it started")
                    assert place is not None
                    place.hand_to_task(task_id, task_claims)
                    task_claims = []
                return result
            finally:
                for claim in reversed([*call_claims, *task_claims]):
                    claim.release()

        return guarded

    return decorate
