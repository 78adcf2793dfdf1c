"""Jobs and their executions in SQLite: the one place that speaks SQL for them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from homei.core.store import Store
from homei.jobs.group_commit import GroupCommit, Statement
from homei.jobs.job_records import (
    Ending,
    Execution,
    ExecutionStatus,
    Job,
    JobStatus,
    execution_from_row,
    job_from_row,
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
        return job_from_row(row) if row else None

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
        return [job_from_row(r) for r in rows], int(total[0]) if total else 0

    async def scheduled(self) -> list[Job]:
        """Jobs waiting for a time."""
        rows = await self._store.fetch_all("SELECT * FROM jobs WHERE next_run_at IS NOT NULL")
        return [job_from_row(r) for r in rows]

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
        return [execution_from_row(r) for r in rows]

    async def latest_executions(self, job_ids: Sequence[str]) -> list[Execution]:
        """The executions of each job's latest run (or of its coming one)."""
        if not job_ids:
            return []
        marks = ",".join("?" * len(job_ids))
        rows = await self._store.fetch_all(
            "SELECT e.* FROM job_executions e JOIN jobs j ON j.id = e.job_id"
            f" WHERE e.job_id IN ({marks})"
            " AND e.due_at = COALESCE(j.last_due_at, j.next_run_at, j.schedule_at)"
            " ORDER BY e.system_name",
            tuple(job_ids),
        )
        return [execution_from_row(r) for r in rows]

    async def recent(self, limit: int) -> list[Execution]:
        """The executions that ended last."""
        rows = await self._store.fetch_all(
            "SELECT * FROM job_executions WHERE completed_at IS NOT NULL"
            " ORDER BY completed_at DESC LIMIT ?",
            (limit,),
        )
        return [execution_from_row(r) for r in rows]

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
