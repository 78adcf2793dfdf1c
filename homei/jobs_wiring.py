"""The jobs' part of the daemon: jobs and executions in SQLite, run through the executor of
each system, on a schedule; and the dashboard, which also reads the rest of the device.

`build_jobs` is the one place that knows the jobs' seams: which executor serves which
system, where systems come from, and where the dashboard's device summary comes from.
"""

from __future__ import annotations

from typing import Any

import msgspec

from homei.backup.manager import BackupManager
from homei.core.events import EventBus
from homei.core.store import Store
from homei.jobs.dashboard import Dashboard, SystemCounts
from homei.jobs.execution import Executor
from homei.jobs.job_store import JobStore
from homei.jobs.jobs import LOCAL_SYSTEM_ID, Jobs, SystemView
from homei.jobs.local import LocalExecutor
from homei.jobs.output import OutputHub
from homei.jobs.runner import JobRunner
from homei.services.health import HealthMonitor
from homei.settings import Settings
from homei.update.manager import UpdateManager


class JobParts(msgspec.Struct, frozen=True):
    store: JobStore
    jobs: Jobs
    dashboard: Dashboard


class _LocalSystem(msgspec.Struct, frozen=True):
    id: str = LOCAL_SYSTEM_ID
    name: str = LOCAL_SYSTEM_ID
    is_active: bool = True
    operators_allowed: bool = False


class DeviceOnly:
    """The systems jobs may use while no registry of peers is wired: the device itself."""

    async def find(self, system_id: str) -> SystemView | None:
        """`local`, or None."""
        return _LocalSystem() if system_id == LOCAL_SYSTEM_ID else None

    async def counts(self) -> SystemCounts:
        """The device alone."""
        return SystemCounts(total=1, active=1, healthy=1, linux=1)


def build_jobs(
    settings: Settings,
    store: Store,
    events: EventBus,
    service_health: HealthMonitor,
    updates: UpdateManager,
    backups: BackupManager,
) -> JobParts:
    """Create the jobs' parts and connect them to the device."""
    config = settings.jobs
    job_store = JobStore(store)
    local = LocalExecutor(config.kill_grace)
    systems = DeviceOnly()

    def executor_for(system_id: str) -> Executor:
        return local

    output = OutputHub(
        job_store,
        events,
        limit=config.output_limit,
        flush_interval=config.flush_interval,
        event_interval=config.event_interval,
        max_event_chars=config.max_event_chars,
    )
    runner = JobRunner(job_store, executor_for, output, events)
    jobs = Jobs(
        job_store,
        systems,
        runner,
        output,
        events,
        default_timeout=config.default_timeout,
        default_concurrency=config.concurrency,
    )
    dashboard = Dashboard(job_store, runner, systems.counts, capacity=config.concurrency)

    async def services() -> Any:
        return msgspec.to_builtins(await service_health.counts())

    async def update() -> Any:
        status = await updates.status()
        last = status.history[0] if status.history else None
        return {
            "booted": status.booted,
            "operation": status.operation,
            "last_error": status.last_error or None,
            "last_result": last.result if last else None,
            "last_version": last.to_version if last else None,
        }

    async def last_backup() -> Any:
        stored = [b for b in await backups.list() if b.manifest is not None]
        if not stored:
            return None
        newest = stored[0]
        return {"name": newest.name, "created_at": newest.manifest.created, "size": newest.size}  # type: ignore[union-attr]

    dashboard.add_device_source("services", services)
    dashboard.add_device_source("update", update)
    dashboard.add_device_source("last_backup", last_backup)
    return JobParts(job_store, jobs, dashboard)
