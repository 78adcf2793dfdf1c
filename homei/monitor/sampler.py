"""The device sampler: a reading every `interval` on a worker thread, handed to the history
and to observers (alert rules, `/ws/monitoring`) on the event loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from homei.monitor.history import History
from homei.monitor.readings import DeviceReader, Reading
from homei.monitor.snapshot import Snapshot

_LOGGER = logging.getLogger(__name__)

Observer = Callable[[Snapshot], None]


class DeviceSampler:
    """Samples /proc and /sys; `interval` 0 samples only when asked (`current`)."""

    def __init__(
        self,
        history: History,
        *,
        interval: float,
        flush_interval: float = 10.0,
        sysfs_root: Path = Path("/sys"),
        proc_root: Path = Path("/proc"),
    ) -> None:
        self.interval = interval
        self._history = history
        self._flush_interval = flush_interval
        self._roots = (proc_root, sysfs_root)
        self._reader: DeviceReader | None = None
        self._previous: Reading | None = None
        self._latest: Snapshot | None = None
        self._observers: list[Observer] = []
        self._next: asyncio.Future[Snapshot] | None = None
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def latest(self) -> Snapshot | None:
        return self._latest

    def add_observer(self, callback: Observer) -> None:
        """Call `callback(snapshot)` on the event loop after each sample; it must be cheap."""
        self._observers.append(callback)

    def start(self) -> None:
        """Sample every `interval` and write the history every `flush_interval`."""
        if self.interval > 0:
            self._tasks = [
                asyncio.create_task(self._sample_loop(), name="homei-device-sampler"),
                asyncio.create_task(self._flush_loop(), name="homei-history-flush"),
            ]

    async def stop(self) -> None:
        """Stop sampling and write what is still waiting."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._history.pending:
            try:
                await self._history.flush()
            except Exception:
                _LOGGER.exception("Writing the last samples failed")

    async def sample(self) -> Snapshot:
        """Read the device now, keep the snapshot and tell the observers."""
        async with self._lock:
            reading = await asyncio.to_thread(self._read, time.time())
            snapshot = Snapshot.of(reading, self._previous)
            self._previous, self._latest = reading, snapshot
        if self.interval > 0:
            self._history.add(reading.ts, snapshot.series())
        for observer in list(self._observers):
            try:
                observer(snapshot)
            except Exception:
                _LOGGER.exception("A sample observer failed")
        if self._next is not None and not self._next.done():
            self._next.set_result(snapshot)
        self._next = None
        return snapshot

    def _read(self, now: float) -> Reading:
        if self._reader is None:
            self._reader = DeviceReader(*self._roots)
        return self._reader.read(now)

    async def current(self) -> Snapshot:
        """The latest snapshot if it is fresh, else one read now."""
        latest = self._latest
        fresh_for = 2 * self.interval
        if latest is not None and time.time() - latest.reading.ts < fresh_for:
            return latest
        return await self.sample()

    async def next_snapshot(self) -> Snapshot:
        """Wait for the next sample (when sampling is off, take one after `1` s)."""
        if self.interval <= 0:
            await asyncio.sleep(1.0)
            return await self.sample()
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        return await asyncio.shield(self._next)

    async def _sample_loop(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            try:
                await self.sample()
            except Exception:
                _LOGGER.exception("Sampling the device failed")
            # On a fixed beat: a slow reading does not push every later one back.
            deadline += self.interval
            if deadline < loop.time():
                deadline = loop.time() + self.interval
            await asyncio.sleep(deadline - loop.time())

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            try:
                await self._history.flush()
            except Exception:
                _LOGGER.exception("Writing the history failed")
