"""Jobs: who may run what where, creating them, firing them, cancelling them, reading them."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from typing import Annotated, Protocol

import msgspec
from msgspec import Meta

from homei.core.auth import Identity
from homei.core.clock import isoformat, now_iso, utcnow
from homei.core.errors import Forbidden, JobNotFound, JobNotRunning, ValidationError
from homei.core.event_payloads import OutputChunk
from homei.core.event_types import EventName
from homei.core.events import EventBus
from homei.jobs.job_records import Execution, ExecutionStatus, Job, JobStatus, OnMissed
from homei.jobs.job_store import JobStore
from homei.jobs.output import OutputHub
from homei.jobs.runner import JobRunner
from homei.jobs.schedule import JobScheduler, next_time, parse_time
from homei.jobs.system_records import LOCAL_SYSTEM_ID

_LOGGER = logging.getLogger(__name__)

SystemId = Annotated[str, Meta(min_length=1, max_length=100)]
EnvName = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]


class NewJob(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`POST /api/v1/jobs`: seed 004's body, plus `cron`, `timeout_seconds`, `concurrency`,
    `env` and `on_missed`."""

    name: Annotated[str, Meta(min_length=1, max_length=200)]
    command: Annotated[str, Meta(min_length=1, max_length=64 * 1024)]
    system_ids: Annotated[list[SystemId], Meta(min_length=1, max_length=1000)]
    schedule_at: Annotated[datetime, Meta(tz=True)] | None = None
    cron: Annotated[str, Meta(max_length=200)] | None = None
    timeout_seconds: Annotated[float, Meta(gt=0, le=7 * 86400)] | None = None
    concurrency: Annotated[int, Meta(ge=1, le=1000)] | None = None
    # Bounded so that the largest body the schema allows stays under the API's body limit.
    env: Annotated[dict[EnvName, Annotated[str, Meta(max_length=4096)]], Meta(max_length=32)] = {}
    on_missed: OnMissed = OnMissed.RUN_ONCE


class SystemView(Protocol):
    """What jobs need to know of a system."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def is_active(self) -> bool: ...
    @property
    def operators_allowed(self) -> bool: ...


class SystemDirectory(Protocol):
    """The registered systems, the device's own (`local`) among them."""

    async def find(self, system_id: str) -> SystemView | None:
        """One system, or None."""
        ...


class JobView(msgspec.Struct, frozen=True):
    job: Job
    executions: list[Execution]


class Jobs:
    """The jobs of this device."""

    def __init__(
        self,
        store: JobStore,
        systems: SystemDirectory,
        runner: JobRunner,
        output: OutputHub,
        events: EventBus,
        *,
        default_timeout: float,
        default_concurrency: int,
    ) -> None:
        self._store = store
        self._systems = systems
        self._runner = runner
        self._output = output
        self._events = events
        self._default_timeout = default_timeout
        self._default_concurrency = default_concurrency
        self.scheduler = JobScheduler(store, self.fire)
        self._firing = asyncio.Lock()

    async def start(self) -> None:
        """Settle what a stop cut short, catch up on missed times, start the clocks."""
        for job_id in await self._store.recover(now_iso()):
            job = await self._store.get(job_id)
            if job is not None and job.status in (JobStatus.PENDING, JobStatus.RUNNING):
                await self._store.set_job_status(job_id, JobStatus.FAILED)
        self._output.start()
        await self.scheduler.catch_up()
        self.scheduler.start()

    async def stop(self) -> None:
        """Stop the clocks and every run (their executions end as failed)."""
        await self.scheduler.stop()
        await self._runner.shutdown()
        await self._output.stop()

    async def create(self, new: NewJob, caller: Identity) -> JobView:
        """Check and record a job; run it now unless it has a time."""
        system_ids = list(dict.fromkeys(new.system_ids))
        systems = [await self._allowed(system_id, caller) for system_id in system_ids]
        now = utcnow()
        if new.cron is not None and new.schedule_at is not None:
            raise _invalid("cron", "give either schedule_at or cron, not both")
        try:
            first = next_time(new.cron, now)
        except ValueError as err:
            raise _invalid("cron", str(err)) from None
        if new.schedule_at is not None and new.schedule_at > now:
            first = isoformat(new.schedule_at)
        created = isoformat(now)
        job = Job(
            str(uuid.uuid4()),
            new.name,
            new.command,
            system_ids,
            JobStatus.PENDING,
            caller.username,
            created,
            isoformat(new.schedule_at) if new.schedule_at else None,
            new.cron,
            new.timeout_seconds or self._default_timeout,
            new.concurrency or self._default_concurrency,
            dict(new.env),
            new.on_missed,
            first,
            None if first else created,
        )
        due = first or created
        executions = [] if new.cron else [_pending(job, s, due) for s in systems]
        await self._store.create(job, executions)
        self._events.publish(
            EventName.JOB_CREATED, {"job_id": job.id, "name": job.name, "system_ids": system_ids}
        )
        _LOGGER.info("Job %s (%s) created by %s", job.id, job.name, caller.username)
        if first is None:
            self._runner.start(job, due, executions)
        else:
            self.scheduler.wake()
        return JobView(job, executions)

    async def _allowed(self, system_id: str, caller: Identity) -> SystemView:
        system = await self._systems.find(system_id)
        if system is None:
            raise _invalid("system_ids", f"no system '{system_id}'")
        if not system.is_active:
            raise _invalid("system_ids", f"system '{system.name}' is not active")
        if caller.is_admin:
            return system
        if system.id == LOCAL_SYSTEM_ID or not system.operators_allowed:
            raise Forbidden(
                f"Only an admin may run jobs on system '{system.name}'",
                {"system_id": system_id},
            )
        return system

    async def fire(self, job: Job, due_at: str) -> None:
        """Start the run of `job` due at `due_at` (called by the schedule); once per due
        time, however often it is asked."""
        async with self._firing:
            current = await self._store.get(job.id)
            if current is None or current.next_run_at != due_at:
                return  # fired already, cancelled, or rescheduled
            await self._fire(current, due_at)

    async def _fire(self, job: Job, due_at: str) -> None:
        next_run = next_time(job.cron, max(utcnow(), parse_time(due_at)))
        if self._runner.is_running(job.id):
            _LOGGER.warning("Job %s still runs; its time %s is skipped", job.id, due_at)
            await self._store.fire(job.id, due_at, next_run, [])
            return
        systems = [await self._systems.find(s) for s in job.system_ids]
        executions = [_pending(job, system, due_at) for system in systems if system is not None]
        await self._store.fire(job.id, due_at, next_run, executions)
        # The executions made when the job was created (a `schedule_at`) are the ones to run.
        stored = await self._store.executions([job.id], due_at)
        self._runner.start(job, due_at, [e for e in stored if e.status is ExecutionStatus.PENDING])

    async def get(self, job_id: str) -> JobView:
        """One job with its executions, newest due time first."""
        job = await self._store.get(job_id)
        if job is None:
            raise JobNotFound(f"Job '{job_id}' not found", {"job_id": job_id})
        return JobView(job, await self._store.executions([job_id]))

    async def page(
        self, status: str | None, created_by: str | None, limit: int, offset: int
    ) -> tuple[list[JobView], int]:
        """A page of jobs, each with the executions of its latest run."""
        jobs, total = await self._store.page(status, created_by, limit, offset)
        latest: dict[str, list[Execution]] = {}
        for execution in await self._store.latest_executions([j.id for j in jobs]):
            latest.setdefault(execution.job_id, []).append(execution)
        return [JobView(j, latest.get(j.id, [])) for j in jobs], total

    async def cancel(self, job_id: str) -> Job:
        """Stop a job: its running commands are stopped, its pending ones cancelled, its
        schedule ended. 409 for a job that has nothing left to do."""
        view = await self.get(job_id)
        job = view.job
        if (
            job.next_run_at is None
            and not self._runner.is_running(job_id)
            and not any(e.status is ExecutionStatus.PENDING for e in view.executions)
        ):
            raise JobNotRunning(
                f"Job '{job_id}' is {job.status}: nothing to cancel", {"status": job.status}
            )
        await self._store.cancel(job_id, now_iso())
        await self._runner.stop_job(job_id, ExecutionStatus.CANCELLED)
        self._events.publish(EventName.JOB_CANCELLED, {"job_id": job_id})
        _LOGGER.info("Job %s cancelled", job_id)
        return msgspec.structs.replace(job, status=JobStatus.CANCELLED, next_run_at=None)

    def live_output(self, job_id: str) -> list[OutputChunk]:
        """All output so far of a job's running executions (a watcher's starting point)."""
        return self._output.snapshot(job_id)

    @property
    def running_count(self) -> int:
        """How many jobs run now."""
        return self._runner.running_count


def _pending(job: Job, system: SystemView, due_at: str) -> Execution:
    return Execution(
        str(uuid.uuid4()), job.id, system.id, system.name, due_at, ExecutionStatus.PENDING,
        None, None, None, "", "", False, None, None,
    )  # fmt: skip


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(
        f"Invalid body.{field}: {message}",
        {"fields": [{"path": f"body.{field}", "message": message}]},
    )
