"""The software watchdog over a real notify socket: it pets only while the daemon is healthy,
and withholds `WATCHDOG=1`, saying why, while a check fails or the event loop lags."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from homei.core.watchdog import LoopMonitor, Notifier, Watchdog, watchdog_interval

MAX_LAG = 0.25


class NotifySocket:
    """The receiving end of `$NOTIFY_SOCKET`, as systemd holds it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.setblocking(False)
        self.received: list[str] = []

    def drain(self) -> list[str]:
        """The messages waiting now, without waiting for more."""
        messages = []
        while True:
            try:
                messages.append(self._sock.recv(4096).decode())
            except BlockingIOError:
                return messages

    async def pets(self, seconds: float, enough: int | None = None) -> int:
        """How many `WATCHDOG=1` arrive within `seconds` (returning early at `enough`)."""
        loop = asyncio.get_running_loop()
        count, deadline = 0, loop.time() + seconds
        while (left := deadline - loop.time()) > 0 and (enough is None or count < enough):
            try:
                message = await asyncio.wait_for(loop.sock_recv(self._sock, 4096), left)
            except TimeoutError:
                break
            self.received.append(message.decode())
            count += message.count(b"WATCHDOG=1")
        return count

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
async def notify(tmp_path: Path) -> AsyncIterator[NotifySocket]:
    receiver = NotifySocket(tmp_path / "notify")
    yield receiver
    receiver.close()


@pytest.fixture
async def make_watchdog(notify: NotifySocket) -> AsyncIterator[Callable[[float], Watchdog]]:
    """A watchdog petting every `interval` seconds, its loop monitor beating every 50 ms."""
    monitor = LoopMonitor(interval=0.05)
    monitor.start()
    made: list[Watchdog] = []

    def make(interval: float) -> Watchdog:
        notifier = Notifier({"NOTIFY_SOCKET": str(notify.path)})
        made.append(Watchdog(notifier, interval, monitor, max_lag=MAX_LAG))
        return made[-1]

    yield make
    for dog in made:
        await dog.stop()
    await monitor.stop()


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def test_watchdog_interval_from_the_environment():
    assert watchdog_interval({"WATCHDOG_USEC": "10000000"}) == 5.0
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}) is None


async def test_watchdog_withholds_the_pet_while_a_check_fails(make_watchdog, notify):
    watchdog = make_watchdog(0.05)
    healthy = True

    async def database() -> None:
        if not healthy:
            raise RuntimeError("database is gone")

    watchdog.add_check("database", database)
    watchdog.start()
    assert await notify.pets(10.0, enough=3) >= 3
    healthy = False
    await wait_for(lambda: watchdog.last_failure == "database: database is gone")
    notify.drain()  # a pet sent before the check failed
    assert await notify.pets(0.5) == 0
    healthy = True
    assert await notify.pets(10.0, enough=3) >= 3


async def test_watchdog_withholds_the_pet_while_the_loop_lags(make_watchdog, notify, caplog):
    """The loop still turns, but stalls for 0.4 s (beyond the 0.25 s bound) in every pet
    interval: pets that would fall between two stalls must not go out either."""
    caplog.set_level(logging.WARNING, "homei.core.watchdog")
    watchdog = make_watchdog(0.5)  # systemd's ratio: a pet spans several stalls
    watchdog.start()
    assert await notify.pets(10.0, enough=3) >= 3
    loop = asyncio.get_running_loop()
    lagging_until = loop.time() + 4.0
    gaps = itertools.cycle([0.02, 0.3, 0.1, 0.2])  # irregular, as real stalls are

    def stall() -> None:
        end = time.perf_counter() + 0.4
        while time.perf_counter() < end:  # busy, as a runaway computation is
            pass
        if loop.time() < lagging_until:
            loop.call_later(next(gaps), stall)

    loop.call_soon(stall)
    await wait_for(lambda: (watchdog.last_failure or "").startswith("event loop lag"), 2.0)
    notify.drain()  # pets from before the first stall
    notify.received.clear()
    while loop.time() < lagging_until:
        await notify.pets(0.2)
    messages = " ".join(notify.received + notify.drain())
    assert "WATCHDOG=1" not in messages
    assert "STATUS=Unhealthy: event loop lag" in messages
    assert "Withholding the watchdog: event loop lag" in caplog.text
    assert await notify.pets(10.0, enough=3) >= 3  # the loop is back: petting resumes
    assert watchdog.last_failure is None and "Petting the watchdog again" in caplog.text
