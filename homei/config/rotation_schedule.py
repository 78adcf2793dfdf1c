"""When each secret is rotated next: schedules kept in SQLite, so they outlive the process,
and a loop that rotates what is due. A rotation missed while the device was off is due at
the next start, and runs once (the next one is counted from then, never caught up).

Rotations under way are noted here too (with the version they replace), so one the daemon
was stopped in the middle of is judged again at the next start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import msgspec

from homei.core.store import Migration, Store

_LOGGER = logging.getLogger(__name__)
DAY = 86400.0

MIGRATIONS = (
    Migration(
        "secret_rotation",
        1,
        """
        CREATE TABLE secret_rotation (
            service TEXT NOT NULL,
            secret TEXT NOT NULL,
            environment TEXT NOT NULL,
            interval_days REAL NOT NULL,
            next_due REAL NOT NULL,
            last_run REAL,
            last_result TEXT,
            PRIMARY KEY (service, secret, environment)
        );
        CREATE TABLE secret_rotation_in_flight (
            service TEXT NOT NULL,
            secret TEXT NOT NULL,
            environment TEXT NOT NULL,
            previous_version INTEGER NOT NULL,
            PRIMARY KEY (service, secret, environment)
        );
        """,
    ),
)


class RotationSchedule(msgspec.Struct, frozen=True):
    """One secret's schedule: every `interval_days`, next at `next_due` (epoch seconds)."""

    service: str
    secret: str
    environment: str
    interval_days: float
    next_due: float
    last_run: float | None = None
    last_result: str | None = None


_COLUMNS = "service, secret, environment, interval_days, next_due, last_run, last_result"

# Rotates one secret: (service, secret, environment); raises when it did not.
Rotate = Callable[[str, str, str], Awaitable[object]]


class RotationSchedules:
    """The schedules, and the loop that runs the due ones."""

    def __init__(
        self,
        store: Store,
        *,
        check_interval: float,
        retry_after: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._check_interval = check_interval
        self._retry_after = retry_after
        self._clock = clock
        self._loop: asyncio.Task[None] | None = None

    async def put(
        self, service: str, secret: str, environment: str, interval_days: float
    ) -> RotationSchedule:
        """Rotate the secret every `interval_days` from now on."""
        schedule = RotationSchedule(
            service, secret, environment, interval_days, self._clock() + interval_days * DAY
        )
        await self._store.execute(
            f"INSERT OR REPLACE INTO secret_rotation ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            msgspec.structs.astuple(schedule),
        )
        return schedule

    async def get(self, service: str, secret: str, environment: str) -> RotationSchedule | None:
        """The secret's schedule, if it has one."""
        row = await self._store.fetch_one(
            f"SELECT {_COLUMNS} FROM secret_rotation"
            " WHERE service = ? AND secret = ? AND environment = ?",
            (service, secret, environment),
        )
        return RotationSchedule(*row) if row is not None else None

    async def ran(
        self, service: str, secret: str, environment: str, result: str, *, succeeded: bool
    ) -> float | None:
        """Note a rotation's outcome; when the next one is due (None: no schedule)."""
        schedule = await self.get(service, secret, environment)
        if schedule is None:
            return None
        now = self._clock()
        due = now + (schedule.interval_days * DAY if succeeded else self._retry_after)
        await self._store.execute(
            "UPDATE secret_rotation SET next_due = ?, last_run = ?, last_result = ?"
            " WHERE service = ? AND secret = ? AND environment = ?",
            (due, now, result, service, secret, environment),
        )
        return due

    async def due(self) -> list[RotationSchedule]:
        """The schedules whose time has come, the most overdue first."""
        rows = await self._store.fetch_all(
            f"SELECT {_COLUMNS} FROM secret_rotation WHERE next_due <= ? ORDER BY next_due",
            (self._clock(),),
        )
        return [RotationSchedule(*row) for row in rows]

    async def forget(self, service: str) -> None:
        """Drop a removed service's schedules."""
        await self._store.execute("DELETE FROM secret_rotation WHERE service = ?", (service,))

    async def begin(self, service: str, secret: str, environment: str, previous: int) -> None:
        """Note a rotation under way, replacing version `previous`."""
        await self._store.execute(
            "INSERT OR REPLACE INTO secret_rotation_in_flight VALUES (?, ?, ?, ?)",
            (service, secret, environment, previous),
        )

    async def end(self, service: str, secret: str, environment: str) -> None:
        """The rotation is over, kept or rolled back."""
        await self._store.execute(
            "DELETE FROM secret_rotation_in_flight"
            " WHERE service = ? AND secret = ? AND environment = ?",
            (service, secret, environment),
        )

    async def in_flight(self) -> list[tuple[str, str, str, int]]:
        """Rotations begun and not ended: (service, secret, environment, previous version)."""
        rows = await self._store.fetch_all(
            "SELECT service, secret, environment, previous_version FROM secret_rotation_in_flight"
        )
        return [(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]

    def start(self, rotate: Rotate, *, before: Callable[[], Awaitable[None]]) -> None:
        """Run `before`, then the due rotations (those missed while off) and the others
        whenever they come due."""
        self._loop = asyncio.create_task(self._run(rotate, before), name="homei-rotation")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None

    async def _run(self, rotate: Rotate, before: Callable[[], Awaitable[None]]) -> None:
        try:
            await before()
        except Exception:  # the schedules run even if one judgement could not be made
            _LOGGER.exception("Judging the rotations cut short failed")
        while True:
            for schedule in await self.due():
                try:
                    await rotate(schedule.service, schedule.secret, schedule.environment)
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # the schedule outlives one failed rotation
                    message = getattr(err, "message", None) or str(err) or type(err).__name__
                    _LOGGER.warning(
                        "Scheduled rotation of %s's %s failed: %s",
                        schedule.service,
                        schedule.secret,
                        message,
                    )
                    await self.ran(
                        schedule.service,
                        schedule.secret,
                        schedule.environment,
                        message,
                        succeeded=False,
                    )
            await asyncio.sleep(self._check_interval)
