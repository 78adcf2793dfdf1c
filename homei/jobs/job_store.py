"""Jobs and their executions in SQLite: the one place that speaks SQL for them."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import msgspec

from homei.core.store import Migration, Store
from homei.jobs.group_commit import GroupCommit, Statement

MIGRATIONS = (
    Migration(
        "jobs",
        1,
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            command TEXT NOT NULL,
            system_ids TEXT NOT NULL,
            status TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            schedule_at TEXT,
            cron TEXT,
            timeout_seconds REAL NOT NULL,
            concurrency INTEGER NOT NULL,
            env TEXT NOT NULL,
            on_missed TEXT NOT NULL,
            next_run_at TEXT,
            last_due_at TEXT
        );
        CREATE INDEX jobs_next_run ON jobs (next_run_at) WHERE next_run_at IS NOT NULL;
        CREATE TABLE job_executions (
            id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            system_id TEXT NOT NULL REFERENCES systems (id) ON DELETE CASCADE,
            system_name TEXT NOT NULL,
            due_at TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at TEXT,
            completed_at TEXT,
            exit_code INTEGER,
            stdout TEXT NOT NULL DEFAULT '',
            stderr TEXT NOT NULL DEFAULT '',
            truncated INTEGER NOT NULL DEFAULT 0,
            error_message TEXT,
            duration_seconds REAL,
            UNIQUE (job_id, system_id, due_at)
        );
        CREATE INDEX job_executions_job ON job_executions (job_id, due_at);
        CREATE INDEX job_executions_system ON job_executions (system_id);
        CREATE INDEX job_executions_recent ON job_executions (completed_at);
        """,
    ),
)


class JobStatus(StrEnum):
    PENDING = "pending"  # waiting for its run (now, at `schedule_at`, or its next cron time)
    RUNNING = "running"
    COMPLETED = "completed"  # every execution of its last run exited 0
    FAILED = "failed"
    CANCELLED = "cancelled"
    MISSED = "missed"  # its time passed while the device was off, and it said not to catch up


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"  # exit code 0
    FAILED = "failed"  # non-zero exit, a signal, an unreachable system or a restart
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    MISSED = "missed"


FINISHED = frozenset(
    {
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.TIMEOUT,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.MISSED,
    }
)


class OnMissed(StrEnum):
    RUN_ONCE = "run_once"
    MARK_MISSED = "mark_missed"


class Job(msgspec.Struct, frozen=True):
    """What to run, where and when."""

    id: str
    name: str
    command: str
    system_ids: list[str]
    status: JobStatus
    created_by: str
    created_at: str
    schedule_at: str | None
    cron: str | None
    timeout_seconds: float
    concurrency: int
    env: dict[str, str]
    on_missed: OnMissed
    next_run_at: str | None
    last_due_at: str | None


class Execution(msgspec.Struct, frozen=True):
    """One command on one system at one due time, and how it went."""

    id: str
    job_id: str
    system_id: str
    system_name: str
    due_at: str
    status: ExecutionStatus
    started_at: str | None
    completed_at: str | None
    exit_code: int | None
    stdout: str
    stderr: str
    truncated: bool
    error_message: str | None
    duration_seconds: float | None


class Ending(msgspec.Struct, frozen=True):
    """How an execution ended, as it is written once."""

    status: ExecutionStatus
    completed_at: str
    exit_code: int | None
    stdout: str
    stderr: str
    truncated: bool
    error_message: str | None
    duration_seconds: float | None


def _job(row: Any) -> Job:
    return Job(
        row["id"],
        row["name"],
        row["command"],
        msgspec.json.decode(row["system_ids"]),
        JobStatus(row["status"]),
        row["created_by"],
        row["created_at"],
        row["schedule_at"],
        row["cron"],
        row["timeout_seconds"],
        row["concurrency"],
        msgspec.json.decode(row["env"]),
        OnMissed(row["on_missed"]),
        row["next_run_at"],
        row["last_due_at"],
    )


def _execution(row: Any) -> Execution:
    return Execution(
        row["id"],
        row["job_id"],
        row["system_id"],
        row["system_name"],
        row["due_at"],
        ExecutionStatus(row["status"]),
        row["started_at"],
        row["completed_at"],
        row["exit_code"],
        row["stdout"],
        row["stderr"],
        bool(row["truncated"]),
        row["error_message"],
        row["duration_seconds"],
    )


_INSERT_EXECUTION = (
    "INSERT OR IGNORE INTO job_executions (id, job_id, system_id, system_name, due_at, status)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


class JobStore:
    """Reads and writes jobs and executions."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._writes = GroupCommit(store)

    async def create(self, job: Job, executions: Sequence[Execution]) -> None:
        """A new job and its first executions, together."""
        await self._store.transaction(
            [
                (
                    "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        job.id,
                        job.name,
                        job.command,
                        msgspec.json.encode(job.system_ids),
                        job.status,
                        job.created_by,
                        job.created_at,
                        job.schedule_at,
                        job.cron,
                        job.timeout_seconds,
                        job.concurrency,
                        msgspec.json.encode(job.env),
                        job.on_missed,
                        job.next_run_at,
                        job.last_due_at,
                    ),
                ),
                *(_insert(e) for e in executions),
            ]
        )

    async def fire(
        self, job_id: str, due_at: str, next_run_at: str | None, executions: Sequence[Execution]
    ) -> None:
        """Record that the run due at `due_at` starts: its executions exist (once per due
        time, whoever asks twice) and the job's next time moves on."""
        await self._store.transaction(
            [
                *(_insert(e) for e in executions),
                (
                    "UPDATE jobs SET status = ?, next_run_at = ?, last_due_at = ? WHERE id = ?",
                    (JobStatus.RUNNING, next_run_at, due_at, job_id),
                ),
            ]
        )

    async def get(self, job_id: str) -> Job | None:
        """One job, or None."""
        row = await self._store.fetch_one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job(row) if row else None

    async def page(
        self, status: str | None, created_by: str | None, limit: int, offset: int
    ) -> tuple[list[Job], int]:
        """A page of jobs, newest first, and how many match."""
        where, params = _filters(status=status, created_by=created_by)
        rows = await self._store.fetch_all(
            f"SELECT * FROM jobs{where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        total = await self._store.fetch_one(f"SELECT COUNT(*) FROM jobs{where}", params)
        return [_job(r) for r in rows], int(total[0]) if total else 0

    async def scheduled(self) -> list[Job]:
        """Jobs waiting for a time."""
        rows = await self._store.fetch_all("SELECT * FROM jobs WHERE next_run_at IS NOT NULL")
        return [_job(r) for r in rows]

    async def executions(
        self, job_ids: Sequence[str], due_at: str | None = None, limit: int = 500
    ) -> list[Execution]:
        """The executions of some jobs (of one due time, if given), newest first."""
        if not job_ids:
            return []
        marks = ",".join("?" * len(job_ids))
        sql = f"SELECT * FROM job_executions WHERE job_id IN ({marks})"
        params: list[Any] = list(job_ids)
        if due_at is not None:
            sql += " AND due_at = ?"
            params.append(due_at)
        rows = await self._store.fetch_all(
            f"{sql} ORDER BY due_at DESC, system_name LIMIT ?", (*params, limit)
        )
        return [_execution(r) for r in rows]

    async def recent(self, limit: int) -> list[Execution]:
        """The executions that ended last."""
        rows = await self._store.fetch_all(
            "SELECT * FROM job_executions WHERE completed_at IS NOT NULL"
            " ORDER BY completed_at DESC LIMIT ?",
            (limit,),
        )
        return [_execution(r) for r in rows]

    async def set_job_status(self, job_id: str, status: JobStatus) -> None:
        """A job's status after its run."""
        await self._writes.write([("UPDATE jobs SET status = ? WHERE id = ?", (status, job_id))])

    async def cancel(self, job_id: str, now: str) -> None:
        """A job stops: no next time, and what had not started is cancelled."""
        await self._store.transaction(
            [
                (
                    "UPDATE jobs SET status = ?, next_run_at = NULL WHERE id = ?",
                    (JobStatus.CANCELLED, job_id),
                ),
                (
                    "UPDATE job_executions SET status = ?, completed_at = ?,"
                    " error_message = 'cancelled before it started'"
                    " WHERE job_id = ? AND status = ?",
                    (ExecutionStatus.CANCELLED, now, job_id, ExecutionStatus.PENDING),
                ),
            ]
        )

    async def started(self, execution_id: str, started_at: str) -> None:
        """An execution began."""
        await self._writes.write(
            [
                (
                    "UPDATE job_executions SET status = ?, started_at = ?"
                    " WHERE id = ? AND status = ?",
                    (ExecutionStatus.RUNNING, started_at, execution_id, ExecutionStatus.PENDING),
                )
            ]
        )

    async def write_output(self, outputs: Sequence[tuple[str, str, str, bool]]) -> None:
        """The output captured so far of several running executions, in one transaction."""
        await self._writes.write(
            [
                (
                    "UPDATE job_executions SET stdout = ?, stderr = ?, truncated = ? WHERE id = ?",
                    (stdout, stderr, int(truncated), execution_id),
                )
                for execution_id, stdout, stderr, truncated in outputs
            ]
        )

    async def finish(self, execution_id: str, ending: Ending) -> None:
        """How an execution ended, written once with its output."""
        await self._writes.write([(
            "UPDATE job_executions SET status = ?, completed_at = ?, exit_code = ?, stdout = ?,"
            " stderr = ?, truncated = ?, error_message = ?, duration_seconds = ? WHERE id = ?",
            (
                ending.status, ending.completed_at, ending.exit_code, ending.stdout,
                ending.stderr, int(ending.truncated), ending.error_message,
                ending.duration_seconds, execution_id,
            ),
        )])  # fmt: skip

    async def recover(self, now: str) -> list[str]:
        """At start: executions cut by a stop are failed, with the reason; the jobs they
        belonged to (whose status to settle) are returned."""
        rows = await self._store.fetch_all(
            "SELECT DISTINCT e.job_id FROM job_executions e JOIN jobs j ON j.id = e.job_id"
            " WHERE e.status = ? OR (e.status = ? AND e.due_at <= j.last_due_at)",
            (ExecutionStatus.RUNNING, ExecutionStatus.PENDING),
        )
        await self._store.transaction(
            [
                (
                    "UPDATE job_executions SET status = ?, completed_at = ?, error_message ="
                    " 'Homei stopped while this ran (restart, crash or power loss)'"
                    " WHERE status = ?",
                    (ExecutionStatus.FAILED, now, ExecutionStatus.RUNNING),
                ),
                (
                    "UPDATE job_executions SET status = ?, completed_at = ?, error_message ="
                    " 'Homei stopped before this started (restart, crash or power loss)'"
                    " WHERE status = ? AND due_at <= (SELECT last_due_at FROM jobs j"
                    " WHERE j.id = job_executions.job_id)",
                    (ExecutionStatus.FAILED, now, ExecutionStatus.PENDING),
                ),
            ]
        )
        return [str(r[0]) for r in rows]

    async def mark_missed(self, job_id: str, due_at: str, next_run_at: str | None) -> None:
        """A due time that passed while the device was off, recorded as missed."""
        await self._store.transaction(
            [
                (
                    "UPDATE jobs SET status = ?, next_run_at = ?, last_due_at = ? WHERE id = ?",
                    (JobStatus.MISSED, next_run_at, due_at, job_id),
                ),
                (
                    "UPDATE job_executions SET status = ?, error_message ="
                    " 'its time passed while the device was off' WHERE job_id = ? AND status = ?",
                    (ExecutionStatus.MISSED, job_id, ExecutionStatus.PENDING),
                ),
            ]
        )

    async def counts(self) -> tuple[dict[str, int], dict[str, int], float | None]:
        """Jobs by status, executions by status, and the executions' average duration."""
        jobs = await self._store.fetch_all("SELECT status, COUNT(*) FROM jobs GROUP BY status")
        runs = await self._store.fetch_all(
            "SELECT status, COUNT(*) FROM job_executions GROUP BY status"
        )
        average = await self._store.fetch_one(
            "SELECT AVG(duration_seconds) FROM job_executions WHERE duration_seconds IS NOT NULL"
        )
        return (
            {str(r[0]): int(r[1]) for r in jobs},
            {str(r[0]): int(r[1]) for r in runs},
            float(average[0]) if average and average[0] is not None else None,
        )


def _insert(execution: Execution) -> Statement:
    e = execution
    return _INSERT_EXECUTION, (e.id, e.job_id, e.system_id, e.system_name, e.due_at, e.status)


def _filters(**values: str | None) -> tuple[str, tuple[str, ...]]:
    present = {k: v for k, v in values.items() if v is not None}
    if not present:
        return "", ()
    return " WHERE " + " AND ".join(f"{k} = ?" for k in present), tuple(present.values())
