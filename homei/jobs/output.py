"""Output of running executions: kept up to a limit per stream, written to the database in
batches, and published live as coalesced `job:output` events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import msgspec

from homei.core.event_payloads import OutputChunk
from homei.core.event_types import EventName
from homei.core.events import EventBus
from homei.jobs.execution import Stream
from homei.jobs.job_store import JobStore

_LOGGER = logging.getLogger(__name__)

STREAMS: tuple[Stream, Stream] = ("stdout", "stderr")


class Capture:
    """What one execution printed so far, and how much of it was published."""

    def __init__(self, job_id: str, execution_id: str, system_id: str, limit: int) -> None:
        self.job_id = job_id
        self.execution_id = execution_id
        self.system_id = system_id
        self._limit = limit
        self._parts: dict[Stream, list[str]] = {"stdout": [], "stderr": []}
        self._bytes: dict[Stream, int] = {"stdout": 0, "stderr": 0}
        self._chars: dict[Stream, int] = {"stdout": 0, "stderr": 0}
        self.published: dict[Stream, int] = {"stdout": 0, "stderr": 0}
        self.is_truncated = False
        self.is_dirty = False

    def add(self, stream: Stream, text: str) -> None:
        """Keep `text` as far as the stream's limit allows."""
        room = self._limit - self._bytes[stream]
        data = text.encode()
        if len(data) > room:
            self.is_truncated = True
            if room <= 0:
                return
            text = data[:room].decode(errors="ignore")
            data = text.encode()
        self._parts[stream].append(text)
        self._bytes[stream] += len(data)
        self._chars[stream] += len(text)
        self.is_dirty = True

    def text(self, stream: Stream) -> str:
        """Everything kept of `stream`."""
        parts = self._parts[stream]
        if len(parts) > 1:
            parts[:] = ["".join(parts)]
        return parts[0] if parts else ""

    @property
    def has_pending(self) -> bool:
        """True while some kept output was not published yet."""
        return any(self.published[s] < self._chars[s] for s in STREAMS)

    def pending(self, stream: Stream, limit: int) -> OutputChunk | None:
        """The next unpublished piece of `stream` (at most `limit` characters), marked sent."""
        start = self.published[stream]
        if start >= self._chars[stream]:
            return None
        text = self.text(stream)[start : start + limit]
        self.published[stream] = start + len(text)
        return OutputChunk(self.execution_id, self.system_id, stream, start, text)


class OutputHub:
    """The captures of every running execution, flushed and published on two clocks."""

    def __init__(
        self,
        store: JobStore,
        events: EventBus,
        *,
        limit: int,
        flush_interval: float,
        event_interval: float,
        max_event_chars: int,
    ) -> None:
        self._store = store
        self._events = events
        self._limit = limit
        self._flush_interval = flush_interval
        self._event_interval = event_interval
        self._max_event_chars = max_event_chars
        self._captures: dict[str, Capture] = {}
        self._loops: list[asyncio.Task[None]] = []

    def open(self, job_id: str, execution_id: str, system_id: str) -> Capture:
        """Start capturing one execution."""
        capture = Capture(job_id, execution_id, system_id, self._limit)
        self._captures[execution_id] = capture
        return capture

    def close(self, capture: Capture) -> None:
        """Publish what is left of an ending execution and stop tracking it."""
        while capture.has_pending:
            self._publish(lambda c: c is capture)
        self._captures.pop(capture.execution_id, None)

    def snapshot(self, job_id: str) -> list[OutputChunk]:
        """Everything captured so far of a job's running executions (for a new watcher)."""
        chunks = []
        for capture in self._captures.values():
            if capture.job_id == job_id:
                for stream in STREAMS:
                    if text := capture.text(stream):
                        chunks.append(
                            OutputChunk(capture.execution_id, capture.system_id, stream, 0, text)
                        )
        return chunks

    def start(self) -> None:
        """Run the flush and publish clocks."""
        self._loops = [
            asyncio.create_task(self._every(self._flush_interval, self.flush), name="jobs-flush"),
            asyncio.create_task(
                self._every(self._event_interval, self._publish_all), name="jobs-output-events"
            ),
        ]

    async def stop(self) -> None:
        """Stop both clocks."""
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        self._loops = []

    async def flush(self) -> None:
        """Write the new output of every running execution, in one transaction."""
        dirty = [c for c in self._captures.values() if c.is_dirty]
        if not dirty:
            return
        for capture in dirty:
            capture.is_dirty = False
        await self._store.write_output(
            [(c.execution_id, c.text("stdout"), c.text("stderr"), c.is_truncated) for c in dirty]
        )

    async def _publish_all(self) -> None:
        self._publish(lambda _: True)

    def _publish(self, which: Callable[[Capture], bool]) -> None:
        by_job: dict[str, list[OutputChunk]] = {}
        budget: dict[str, int] = {}
        for capture in list(self._captures.values()):
            if not which(capture):
                continue
            for stream in STREAMS:
                # One event per job per tick, of bounded size: a chatty command's excess
                # waits for the next tick instead of flooding the bus.
                left = budget.setdefault(capture.job_id, self._max_event_chars)
                if left <= 0:
                    break
                if chunk := capture.pending(stream, left):
                    by_job.setdefault(capture.job_id, []).append(chunk)
                    budget[capture.job_id] = left - len(chunk.text)
        for job_id, chunks in by_job.items():
            self._events.publish(
                EventName.JOB_OUTPUT,
                {"job_id": job_id, "chunks": [msgspec.to_builtins(c) for c in chunks]},
            )

    @staticmethod
    async def _every(interval: float, action: Callable[[], object]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                result = action()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                _LOGGER.exception("Job output bookkeeping failed")
