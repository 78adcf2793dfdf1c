"""When jobs run: at their `schedule_at`, at each time of their `cron`, and once at start for
a time that passed while the device was off (or marked missed, as the job says)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from homei.core.clock import isoformat, utcnow
from homei.core.cron import Cron
from homei.jobs.job_records import Job, OnMissed
from homei.jobs.job_store import JobStore

_LOGGER = logging.getLogger(__name__)

# The longest sleep between looks at the table: a clock set forward is noticed this soon.
MAX_SLEEP = 60.0

Fire = Callable[[Job, str], Awaitable[None]]


def next_time(cron: str | None, after: datetime) -> str | None:
    """The next time of `cron` after `after`, or None for a job without one."""
    return isoformat(Cron(cron).next_after(after)) if cron else None


def parse_time(text: str) -> datetime:
    """A time as Homei writes them (or any ISO 8601 time with a zone)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class JobScheduler:
    """Fires each scheduled job when its time comes; one run per due time."""

    def __init__(self, store: JobStore, fire: Fire) -> None:
        self._store = store
        self._fire = fire
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    async def catch_up(self) -> None:
        """At start: each job whose time passed while Homei was not running runs once now,
        or is marked missed."""
        now = utcnow()
        for job in await self._store.scheduled():
            assert job.next_run_at is not None
            if parse_time(job.next_run_at) > now:
                continue
            if job.on_missed is OnMissed.MARK_MISSED:
                _LOGGER.info("Job %s missed its time %s", job.id, job.next_run_at)
                await self._store.mark_missed(job.id, job.next_run_at, next_time(job.cron, now))
            else:
                _LOGGER.info("Job %s runs now for its missed time %s", job.id, job.next_run_at)
                await self._fire(job, job.next_run_at)

    def start(self) -> None:
        """Run the clock."""
        self._loop = asyncio.create_task(self._run(), name="jobs-schedule")

    async def stop(self) -> None:
        """Stop the clock."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop

    def wake(self) -> None:
        """A schedule changed: look again."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                delay = await self._fire_due()
            except Exception:
                _LOGGER.exception("Firing scheduled jobs failed")
                delay = MAX_SLEEP
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def _fire_due(self) -> float:
        """Fire what is due; seconds until the next time."""
        now = utcnow()
        delay = MAX_SLEEP
        for job in await self._store.scheduled():
            assert job.next_run_at is not None
            due = parse_time(job.next_run_at)
            if due <= now:
                await self._fire(job, job.next_run_at)
            else:
                delay = min(delay, (due - now).total_seconds())
        return max(delay, 0.01)
