"""Backups on a schedule (an interval, or cron-like times in UTC) and their retention: the
newest N, or the newest of each of N days and N weeks. A failed one raises `backup:alert`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from homei.backup.catalog import StoredBackup
from homei.backup.manager import BackupManager, BackupRequest
from homei.backup.manifest import BackupType
from homei.core.clock import isoformat
from homei.core.cron import Cron
from homei.core.errors import HomeiError
from homei.core.events import EventBus
from homei.core.tasks import TaskManager, TaskStatus
from homei.settings_sections import BackupSchedule

_LOGGER = logging.getLogger(__name__)
_STAMP = re.compile(r"-(\d{8}-\d{6})\.tar$")
BUSY_RETRY = 60.0


def to_keep(backups: Sequence[StoredBackup], last: int, daily: int, weekly: int) -> set[str]:
    """The names a schedule's retention keeps, of that schedule's backups."""
    stamped = sorted(
        ((datetime.strptime(m.group(1), "%Y%m%d-%H%M%S"), b.name)
         for b in backups if (m := _STAMP.search(b.name))),
        reverse=True,
    )  # fmt: skip
    keep = {name for _, name in stamped[:last]}
    for count, bucket in ((daily, _day), (weekly, _week)):
        seen: list[Any] = []
        for when, name in stamped:
            key = bucket(when)
            if key not in seen and len(seen) < count:
                seen.append(key)
                keep.add(name)
    return keep


def _day(moment: datetime) -> Any:
    return moment.date()


def _week(moment: datetime) -> Any:
    return moment.isocalendar()[:2]


class Scheduler:
    def __init__(
        self,
        schedules: Sequence[BackupSchedule],
        backups: BackupManager,
        tasks: TaskManager,
        events: EventBus,
    ) -> None:
        self._schedules = list(schedules)
        self._crons = {s.name: Cron(s.cron) for s in self._schedules if s.cron}
        self._backups = backups
        self._tasks = tasks
        self._events = events
        self._next: dict[str, datetime | None] = {}
        self._last: dict[str, tuple[str, str]] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._started = False

    def start(self) -> None:
        self._started = True
        for schedule in self._schedules:
            self._loops.append(asyncio.create_task(self._loop(schedule)))

    async def stop(self) -> None:
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        self._loops.clear()

    async def replace(self, schedules: Sequence[BackupSchedule]) -> None:
        """Run `schedules` from now on instead (started again if it was running)."""
        running = self._started
        await self.stop()
        self._schedules = list(schedules)
        self._crons = {s.name: Cron(s.cron) for s in self._schedules if s.cron}
        if running:
            self.start()

    def _next_run(self, schedule: BackupSchedule, now: datetime) -> datetime | None:
        if schedule.name in self._crons:
            return self._crons[schedule.name].next_after(now)
        if schedule.interval:
            return now + timedelta(seconds=schedule.interval)
        return None

    async def _loop(self, schedule: BackupSchedule) -> None:
        while True:
            due = self._next_run(schedule, datetime.now(UTC))
            self._next[schedule.name] = due
            if due is None:
                return
            await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
            try:
                result = await self.run(schedule)
            except Exception as err:  # a schedule outlives any one failure
                result = str(err) or type(err).__name__
            self._last[schedule.name] = (isoformat(datetime.now(UTC)), result)
            if result != "completed":
                _LOGGER.warning("Scheduled backup %s failed: %s", schedule.name, result)
                self._events.publish(
                    "backup:alert",
                    {"severity": "critical", "schedule": schedule.name,
                     "message": f"Scheduled backup '{schedule.name}' failed: {result}"},
                )  # fmt: skip

    async def run(self, schedule: BackupSchedule) -> str:
        """One scheduled backup, then the schedule's retention; "completed" or why not."""
        password = None
        if schedule.password_file:
            password = (await asyncio.to_thread(Path(schedule.password_file).read_text)).strip()
        request = BackupRequest(
            schedule.name,
            BackupType(schedule.type),
            schedule.services or None,
            schedule.homei,
            schedule.include_data,
            password,
        )
        while True:
            try:
                record = await self._backups.create(request, created_by=f"schedule:{schedule.name}")
                break
            except HomeiError as err:
                if err.status != 409:
                    raise
                await asyncio.sleep(BUSY_RETRY)
        final = await self._tasks.wait(record.id)
        if final.status is not TaskStatus.COMPLETED:
            return final.error or str(final.status)
        await self.apply_retention(schedule)
        return "completed"

    async def apply_retention(self, schedule: BackupSchedule) -> list[str]:
        """Delete the schedule's backups its retention no longer keeps; their names."""
        own = [b for b in await self._backups.list() if b.name.startswith(f"{schedule.name}-")]
        keep = to_keep(own, schedule.keep_last, schedule.keep_daily, schedule.keep_weekly)
        doomed = [b.name for b in own if b.name not in keep and _STAMP.search(b.name)]
        for name in doomed:
            await self._backups.delete(name)
        return doomed

    def describe(self) -> list[dict[str, Any]]:
        out = []
        for s in self._schedules:
            due = self._next.get(s.name)
            last = self._last.get(s.name)
            out.append({
                "name": s.name, "type": s.type, "services": list(s.services),
                "interval": s.interval, "cron": s.cron, "keep_last": s.keep_last,
                "keep_daily": s.keep_daily, "keep_weekly": s.keep_weekly,
                "encrypted": bool(s.password_file),
                "next_run": isoformat(due) if due else None,
                "last_run": last[0] if last else None, "last_result": last[1] if last else None,
            })  # fmt: skip
        return out
