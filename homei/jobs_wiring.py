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
from homei.jobs.jobs import Jobs, SystemView
from homei.jobs.local import LocalExecutor
from homei.jobs.output import OutputHub
from homei.jobs.runner import JobRunner
from homei.jobs.system_records import LOCAL_SYSTEM_ID, SystemNotFound
from homei.jobs.systems import Systems
from homei.services.health import HealthMonitor
from homei.settings import Settings
from homei.systems_wiring import SystemParts
from homei.update.manager import UpdateManager


class JobParts(msgspec.Struct, frozen=True):
    store: JobStore
    jobs: Jobs
    dashboard: Dashboard


class RegisteredSystems:
    """The registry, as jobs look systems up."""

    def __init__(self, systems: Systems) -> None:
        self._systems = systems

    async def find(self, system_id: str) -> SystemView | None:
        """The system, or None."""
        try:
            return await self._systems.get(system_id)
        except SystemNotFound:
            return None

    async def counts(self) -> SystemCounts:
        """Seed 004's system figures."""
        every, _ = await self._systems.list(limit=1_000_000)
        return SystemCounts(
            total=len(every),
            active=sum(s.is_active for s in every),
            healthy=sum(s.health_status == "healthy" for s in every),
            unhealthy=sum(s.health_status == "unhealthy" for s in every),
            unknown=sum(s.health_status == "unknown" for s in every),
            linux=sum(s.system_type == "linux" for s in every),
            windows=sum(s.system_type == "windows" for s in every),
        )


def build_jobs(
    settings: Settings,
    store: Store,
    events: EventBus,
    registry: SystemParts,
    service_health: HealthMonitor,
    updates: UpdateManager,
    backups: BackupManager,
) -> JobParts:
    """Create the jobs' parts and connect them to the device."""
    config = settings.jobs
    job_store = JobStore(store)
    local = LocalExecutor(config.kill_grace)
    systems = RegisteredSystems(registry.systems)

    def executor_for(system_id: str) -> Executor:
        return local if system_id == LOCAL_SYSTEM_ID else registry.ssh

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
