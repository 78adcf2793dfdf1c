"""What the job store keeps: its schema, jobs, executions, their states, and how rows become
records."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

from homei.core.store import Migration

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


def job_from_row(row: Any) -> Job:
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


def execution_from_row(row: Any) -> Execution:
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
