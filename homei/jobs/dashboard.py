"""`/dashboard`'s figures: seed 004's systems, jobs and executions, and the device's own
summary, each part from a source handed in at wiring (alerts join when monitoring does)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from homei.jobs.job_records import Execution
from homei.jobs.job_store import JobStore
from homei.jobs.runner import JobRunner

_LOGGER = logging.getLogger(__name__)

RECENT_EXECUTIONS = 10


class SystemCounts(msgspec.Struct, frozen=True):
    total: int = 0
    active: int = 0
    healthy: int = 0
    unhealthy: int = 0
    unknown: int = 0
    linux: int = 0
    windows: int = 0


class JobCounts(msgspec.Struct, frozen=True):
    total: int
    pending: int
    running: int
    completed: int
    failed: int
    cancelled: int
    missed: int


class ExecutionCounts(msgspec.Struct, frozen=True):
    total: int
    pending: int
    running: int
    completed: int
    failed: int
    timeout: int
    cancelled: int
    average_duration: float | None


class RecentExecution(msgspec.Struct, frozen=True):
    id: str
    job_id: str
    system_id: str
    system_name: str
    status: str
    exit_code: int | None
    completed_at: str | None
    duration_seconds: float | None


class Engine(msgspec.Struct, frozen=True):
    status: str
    running_jobs: int
    available_slots: int


_JOB_STATES = ("pending", "running", "completed", "failed", "cancelled", "missed")
_EXECUTION_STATES = ("pending", "running", "completed", "failed", "timeout", "cancelled")

# The device's own summary: each source answers a JSON-able value, or None when the part
# it reads is not there (no RAUC on the machine, no backup yet, no monitoring yet).
DeviceSource = Callable[[], Awaitable[Any]]
DEVICE_PARTS = ("services", "update", "last_backup", "alerts")


class DashboardFigures(msgspec.Struct, frozen=True):
    systems: SystemCounts
    jobs: JobCounts
    executions: ExecutionCounts
    recent_executions: list[RecentExecution]
    engine: Engine
    device: dict[str, Any]


class Dashboard:
    """Counts what the dashboard shows, from the job store and the device's sources."""

    def __init__(
        self,
        store: JobStore,
        runner: JobRunner,
        systems: Callable[[], Awaitable[SystemCounts]],
        *,
        capacity: int,
    ) -> None:
        self._store = store
        self._runner = runner
        self._systems = systems
        self._capacity = capacity
        self._device: dict[str, DeviceSource] = {}

    def add_device_source(self, part: str, source: DeviceSource) -> None:
        """The source of one part of the device's summary (`DEVICE_PARTS`); monitoring adds
        `alerts` here when it is wired."""
        if part not in DEVICE_PARTS:
            raise ValueError(f"unknown dashboard part {part!r}")
        self._device[part] = source

    async def figures(self) -> DashboardFigures:
        """Everything the dashboard shows, now."""
        jobs, executions, average = await self._store.counts()
        recent = await self._store.recent(RECENT_EXECUTIONS)
        running = self._runner.running_count
        return DashboardFigures(
            await self._systems(),
            JobCounts(total=sum(jobs.values()), **{s: jobs.get(s, 0) for s in _JOB_STATES}),
            ExecutionCounts(
                total=sum(executions.values()),
                average_duration=round(average, 3) if average is not None else None,
                **{s: executions.get(s, 0) for s in _EXECUTION_STATES},
            ),
            [_recent(e) for e in recent],
            Engine("healthy", running, max(0, self._capacity - running)),
            await self._device_summary(),
        )

    async def _device_summary(self) -> dict[str, Any]:
        parts = list(self._device.items())
        answers = await asyncio.gather(*(source() for _, source in parts), return_exceptions=True)
        summary: dict[str, Any] = dict.fromkeys(DEVICE_PARTS)
        for (part, _), answer in zip(parts, answers, strict=True):
            if isinstance(answer, BaseException):
                _LOGGER.debug("Dashboard part %s unavailable: %s", part, answer)
                continue
            summary[part] = answer
        return summary


def _recent(e: Execution) -> RecentExecution:
    return RecentExecution(
        e.id, e.job_id, e.system_id, e.system_name, e.status, e.exit_code, e.completed_at,
        e.duration_seconds,
    )  # fmt: skip
