"""What a task is: its record in SQLite, its states, and the context a running task reports
through. `TaskManager` (in `tasks.py`) runs them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, Protocol

import msgspec

from homei.core.clock import monotonic
from homei.core.errors import ValidationError
from homei.core.store import Migration

MIGRATIONS = (
    Migration(
        "tasks",
        1,
        """
        CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            service TEXT,
            status TEXT NOT NULL,
            progress INTEGER NOT NULL DEFAULT 0,
            message TEXT NOT NULL DEFAULT '',
            params TEXT NOT NULL DEFAULT '{}',
            result TEXT,
            error TEXT,
            created_by TEXT,
            created TEXT NOT NULL,
            started TEXT,
            completed TEXT,
            duration REAL
        );
        CREATE INDEX tasks_created ON tasks (created);
        CREATE INDEX tasks_status ON tasks (status);
        CREATE TABLE task_logs (
            task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            timestamp TEXT NOT NULL,
            level TEXT NOT NULL,
            message TEXT NOT NULL,
            PRIMARY KEY (task_id, seq)
        );
        """,
    ),
)

PROGRESS_WRITE_INTERVAL = 0.25
INTERRUPTED_BY_RESTART = "Interrupted: Homei stopped while this task was running"


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_finished(self) -> bool:
        """True for the states a task never leaves."""
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class TaskLog(msgspec.Struct, frozen=True):
    timestamp: str
    level: str
    message: str


class TaskRecord(msgspec.Struct, frozen=True):
    """A task as stored; `logs` is filled only by `TaskManager.get`."""

    id: str
    type: str
    service: str | None
    status: TaskStatus
    progress: int
    message: str
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_by: str | None
    created: str
    started: str | None
    completed: str | None
    duration: float | None
    logs: tuple[TaskLog, ...] = ()


TaskRunner = Callable[["TaskContext"], Awaitable[dict[str, Any] | None]]


class TaskRequest(msgspec.Struct, frozen=True):
    """What a client asked for in `POST /api/v1/tasks`."""

    config: dict[str, Any]
    service: str | None
    created_by: str | None


#: Checks a request's `config` and starts the task itself (400 for a bad config).
TaskStarter = Callable[[TaskRequest], Awaitable[TaskRecord]]


class TaskKind(msgspec.Struct, frozen=True):
    """A kind of task clients may create through the API, and who may create it.

    A kind either has a `runner`, run with the client's `config` as its params, or a
    `starter` that validates the config and starts the task the way its own API does."""

    name: str
    runner: TaskRunner | None
    permission: str
    description: str
    starter: TaskStarter | None = None


# Every retained task is held in memory with its config: a client's config is kept small.
MAX_CONFIG_SIZE = 16 * 1024


def check_config(config: dict[str, Any]) -> None:
    """400 for a client's task config of more than `MAX_CONFIG_SIZE` bytes of JSON."""
    if len(msgspec.json.encode(config)) > MAX_CONFIG_SIZE:
        raise ValidationError(
            f"A task's config may take at most {MAX_CONFIG_SIZE} bytes of JSON",
            {"field": "config", "limit": MAX_CONFIG_SIZE},
        )


class TaskKinds:
    """The kinds of task clients may create, by name."""

    def __init__(self) -> None:
        self._kinds: dict[str, TaskKind] = {}

    def register(self, kind: TaskKind) -> None:
        """Add `kind`, replacing one of the same name."""
        if (kind.runner is None) == (kind.starter is None):
            raise ValueError(f"Task kind '{kind.name}' needs a runner or a starter")
        self._kinds[kind.name] = kind

    def all(self) -> dict[str, TaskKind]:
        """Every kind, by name."""
        return dict(self._kinds)

    def get(self, name: str) -> TaskKind:
        """The kind called `name`; 400 naming the known ones otherwise."""
        try:
            return self._kinds[name]
        except KeyError:
            raise ValidationError(
                f"Unknown task type '{name}'", {"field": "type", "known": sorted(self._kinds)}
            ) from None


class TaskJournal(Protocol):
    """Where a running task's progress and log lines go."""

    async def record_progress(self, task_id: str, progress: int, message: str) -> None: ...

    async def append_log(self, task_id: str, level: str, message: str) -> None: ...


class TaskContext(msgspec.Struct, eq=False):
    """What a running task uses to report on itself."""

    task_id: str
    service: str | None
    params: dict[str, Any]
    _journal: TaskJournal
    _progress: int = 0
    _message: str = ""
    _last_write: float = msgspec.field(default=0.0)

    async def progress(self, percent: float, message: str | None = None) -> None:
        """Report progress (0-100); stored and published, throttled to stay cheap."""
        value = max(0, min(100, int(percent)))
        changed_message = message is not None and message != self._message
        if value == self._progress and not changed_message:
            return
        self._progress = value
        if message is not None:
            self._message = message
        now = monotonic()
        if not changed_message and value < 100 and now - self._last_write < PROGRESS_WRITE_INTERVAL:
            return
        self._last_write = now
        await self._journal.record_progress(self.task_id, value, self._message)

    async def log(self, message: str, level: str = "info") -> None:
        """Append a line to the task's log."""
        await self._journal.append_log(self.task_id, level, message)


COLUMNS = (
    "id, type, service, status, progress, message, params, result, error, created_by,"
    " created, started, completed, duration"
)


def row_to_record(row: Any) -> TaskRecord:
    """A task record from its database row."""
    return TaskRecord(
        id=row["id"],
        type=row["type"],
        service=row["service"],
        status=TaskStatus(row["status"]),
        progress=row["progress"],
        message=row["message"],
        params=msgspec.json.decode(row["params"]),
        result=msgspec.json.decode(row["result"]) if row["result"] else None,
        error=row["error"],
        created_by=row["created_by"],
        created=row["created"],
        started=row["started"],
        completed=row["completed"],
        duration=row["duration"],
    )
