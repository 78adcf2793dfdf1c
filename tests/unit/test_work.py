"""Work policies (homei/core/work.py): each rule refuses, waits or counts as it states."""

from __future__ import annotations

import asyncio

import pytest

from homei.core.errors import Conflict, RateLimited, Unavailable
from homei.core.work import AtMost, Backoff, Needs, OneAtATime, RefuseWhile, Workplace, work

ONE_PER_SERVICE = OneAtATime("service", key="name")  # waits for its turn
ONE_BACKUP = OneAtATime("backup", busy=lambda _: Conflict("busy"))
RESTARTS = AtMost(
    "restart", calls=3, period=60.0, key="name",
    refuse=lambda name, wait: RateLimited(f"{name}: again in {wait:.0f}s", {"wait": wait}),
)  # fmt: skip

SPACED = Backoff(
    "unhealthy-restart", first=lambda owner: owner.first_wait, cap=lambda owner: 40.0,
    key="name", refuse=lambda name, wait: RateLimited(f"{name}: in {wait:.0f}s", {"wait": wait}),
)  # fmt: skip


class Owner:
    def __init__(self) -> None:
        self.workplace = Workplace()
        self.updating = False
        self.docker_up = True
        self.running: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.release = asyncio.Event()
        self.first_wait = 10.0

    async def require_docker(self) -> None:
        if not self.docker_up:
            raise Unavailable("Docker is not running")

    @work(
        Needs(lambda owner: owner.require_docker()),
        RefuseWhile(lambda owner: owner.updating, lambda owner: Conflict("update installing")),
        ONE_PER_SERVICE,
    )
    async def control(self, name: str) -> str:
        self.running[name] = self.running.get(name, 0) + 1
        self.peak[name] = max(self.peak.get(name, 0), self.running[name])
        await self.release.wait()
        self.running[name] -= 1
        return name

    @work(ONE_BACKUP)
    async def backup(self) -> None:
        await self.release.wait()

    @work(RESTARTS)
    async def restart(self, name: str) -> None:
        return None

    @work(SPACED)
    async def restart_spaced(self, name: str) -> None:
        return None


async def test_one_per_key_waits_its_turn_and_keys_do_not_block_each_other():
    owner = Owner()
    calls = [asyncio.create_task(owner.control(n)) for n in ("a", "a", "a", "b")]
    async with asyncio.timeout(5):
        while owner.running.get("b") != 1 or owner.running.get("a") != 1:
            await asyncio.sleep(0)
    assert owner.workplace.is_held(ONE_PER_SERVICE, "a")
    owner.release.set()
    assert await asyncio.gather(*calls) == ["a", "a", "a", "b"]
    assert owner.peak == {"a": 1, "b": 1}
    assert not owner.workplace.is_held(ONE_PER_SERVICE, "a")


async def test_a_busy_group_refuses_and_is_free_after_a_failure_or_cancel():
    owner = Owner()
    first = asyncio.create_task(owner.backup())
    async with asyncio.timeout(5):
        while not owner.workplace.is_held(ONE_BACKUP):
            await asyncio.sleep(0)
    with pytest.raises(Conflict, match="busy"):
        await owner.backup()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert not owner.workplace.is_held(ONE_BACKUP)
    owner.release.set()
    await owner.backup()


async def test_conditions_refuse_before_any_turn_is_taken():
    owner = Owner()
    owner.release.set()
    owner.docker_up = False
    with pytest.raises(Unavailable):
        await owner.control("a")
    owner.docker_up, owner.updating = True, True
    with pytest.raises(Conflict, match="update installing"):
        await owner.control("a")
    assert not owner.workplace.is_held(ONE_PER_SERVICE, "a")
    owner.updating = False
    assert await owner.control("a") == "a"


async def test_at_most_n_in_t_per_key_then_refused_with_the_wait():
    owner = Owner()
    for _ in range(3):
        await owner.restart("web")
    with pytest.raises(RateLimited) as refused:
        await owner.restart("web")
    assert 0 < refused.value.details["wait"] <= 60
    await owner.restart("db")  # another key has its own budget
    owner.workplace.forget(RESTARTS, "web")  # e.g. healthy again: the budget starts over
    await owner.restart("web")


async def test_holding_several_keys_takes_them_in_one_order():
    place = Workplace()
    async with place.holding(ONE_PER_SERVICE, "b", "a"):
        assert place.is_held(ONE_PER_SERVICE, "a") and place.is_held(ONE_PER_SERVICE, "b")
    assert not place.is_held(ONE_PER_SERVICE, "a")


def test_a_rule_keyed_by_a_missing_argument_is_refused_at_definition():
    with pytest.raises(TypeError, match="no argument 'name'"):

        @work(ONE_PER_SERVICE)
        async def nameless(self) -> None:
            return None


async def test_conditions_alone_need_no_workplace():
    class Loader:  # like the image loader: it needs Docker and keeps no state
        docker_up = False

        async def require_docker(self) -> None:
            if not self.docker_up:
                raise Unavailable("Docker is not running")

        @work(Needs(lambda loader: loader.require_docker()))
        async def load(self) -> str:
            return "loaded"

    loader = Loader()
    with pytest.raises(Unavailable):
        await loader.load()
    loader.docker_up = True
    assert await loader.load() == "loaded"


async def test_a_refusing_rule_never_waits_behind_a_waiting_one():
    """A group taken by waiting callers (the reconciler, say) refuses a caller that would
    rather skip, even at the moment the turn passes from one waiter to the next."""
    place = Workplace()
    skip = OneAtATime("service", key="name", busy=lambda name: Conflict(f"{name} busy"))
    first = await place.claim(ONE_PER_SERVICE, "a")
    second = asyncio.create_task(place.claim(ONE_PER_SERVICE, "a"))
    async with asyncio.timeout(5):
        while not place._waiting:
            await asyncio.sleep(0)
    first.release()  # handed to the waiter, which has not run yet
    async with asyncio.timeout(5):  # waiting here instead of refusing would hang
        with pytest.raises(Conflict, match="a busy"):
            await place.claim(skip, "a")
    (await second).release()
    (await place.claim(skip, "a")).release()


async def test_a_run_refused_as_busy_spends_no_budget():
    once = AtMost("once", calls=1, period=60.0, refuse=lambda _, wait: RateLimited("spent"))

    class Single:
        def __init__(self) -> None:
            self.workplace = Workplace()
            self.release = asyncio.Event()

        @work(ONE_BACKUP, once)
        async def run(self) -> None:
            await self.release.wait()

    single = Single()
    first = asyncio.create_task(single.run())
    async with asyncio.timeout(5):
        while not single.workplace.is_held(ONE_BACKUP):
            await asyncio.sleep(0)
    with pytest.raises(Conflict):
        await single.run()
    single.release.set()
    await first
    with pytest.raises(RateLimited, match="spent"):  # the first run's budget, not the refused one's
        await single.run()


async def test_a_backoff_doubles_per_key_up_to_its_cap_and_starts_over_when_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]  # a stand-in clock: the waits are minutes long
    monkeypatch.setattr("homei.core.work.monotonic", lambda: now[0])
    owner = Owner()
    waits = []
    for _ in range(5):
        await owner.restart_spaced("web")
        with pytest.raises(RateLimited) as refused:
            await owner.restart_spaced("web")
        waits.append(refused.value.details["wait"])
        now[0] += refused.value.details["wait"]
    assert waits == [10, 20, 40, 40, 40]  # read from the owner, doubled, capped
    await owner.restart_spaced("db")  # another key has its own back-off
    await owner.restart_spaced("web")
    owner.workplace.forget(SPACED, "web")  # e.g. healthy again
    with pytest.raises(RateLimited):  # the wait already under way still holds
        await owner.restart_spaced("web")
    now[0] += 40
    await owner.restart_spaced("web")
    with pytest.raises(RateLimited) as refused:
        await owner.restart_spaced("web")
    assert refused.value.details["wait"] == 10  # the doubling started over
