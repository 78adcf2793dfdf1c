"""Byte progress of a backup or restore: counted on the worker thread, reported from the
event loop a few times a second as task progress and `backup:progress` events."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

from homei.core.events import EventBus
from homei.core.tasks import TaskContext

INTERVAL = 0.5
MIB = 1024 * 1024


class Stopped(Exception):
    """The work was cancelled; raised inside the worker thread at its next chunk."""


class ByteProgress:
    def __init__(
        self, context: TaskContext, events: EventBus, name: str, action: str, total: int
    ) -> None:
        self._context = context
        self._events = events
        self._name = name
        self._action = action
        self.total = max(total, 1)
        self.done = 0
        self._cancelled = threading.Event()

    def add(self, count: int) -> None:
        """Called by the worker thread for every chunk; stops it once cancelled."""
        if self._cancelled.is_set():
            raise Stopped("cancelled")
        self.done += count

    def cancel(self) -> None:
        self._cancelled.set()

    async def report(self, note: str = "") -> None:
        done = min(self.done, self.total)
        percent = 99 * done / self.total
        message = f"{self._action} {self._name}: {done // MIB} of {self.total // MIB} MiB"
        await self._context.progress(percent, f"{message}{f' ({note})' if note else ''}")
        self._events.publish(
            "backup:progress",
            {
                "backup": self._name,
                "action": self._action,
                "bytes_done": done,
                "bytes_total": self.total,
                "progress": int(percent),
                "taskId": self._context.task_id,
            },
        )

    @contextlib.asynccontextmanager
    async def reporting(self) -> AsyncIterator[ByteProgress]:
        """Report every `INTERVAL` while the block runs; the worker stops if it is left."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(INTERVAL)
                await self.report()

        reporter = asyncio.create_task(loop())
        try:
            yield self
        finally:
            self.cancel()
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter


async def in_thread(progress: ByteProgress, func, *args):  # type: ignore[no-untyped-def]
    """Run blocking work on a thread; if this coroutine is cancelled, the thread is told to
    stop and awaited, so nothing keeps writing behind the caller's back."""
    worker = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(worker)
    except asyncio.CancelledError:
        progress.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await worker
        raise
