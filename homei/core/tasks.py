"""Tracked background work: every long operation is a task with progress, logs and a result.

Tasks live in SQLite so their outcome survives the daemon; one interrupted by a
restart is marked failed on the next start, never left "running" forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgspec

from homei.core.clock import monotonic, now_iso
from homei.core.errors import Conflict, TaskNotFound, ValidationError
from homei.core.events import EventBus
from homei.core.store import Migration, Store

_LOGGER = logging.getLogger(__name__)

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


@dataclass(frozen=True, slots=True)
class TaskLog:
    timestamp: str
    level: str
    message: str


@dataclass(frozen=True, slots=True)
class TaskRecord:
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


@dataclass(frozen=True, slots=True)
class TaskKind:
    """A kind of task clients may create through the API, and who may create it."""

    name: str
    runner: TaskRunner
    permission: str
    description: str


@dataclass(eq=False)
class TaskContext:
    """What a running task uses to report on itself."""

    task_id: str
    service: str | None
    params: dict[str, Any]
    _manager: TaskManager
    _progress: int = 0
    _message: str = ""
    _last_write: float = field(default=0.0)

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
        await self._manager._record_progress(self, value, self._message)

    async def log(self, message: str, level: str = "info") -> None:
        """Append a line to the task's log."""
        await self._manager._append_log(self.task_id, level, message)


_COLUMNS = (
    "id, type, service, status, progress, message, params, result, error, created_by,"
    " created, started, completed, duration"
)


def _row_to_record(row: Mapping[str, Any], logs: tuple[TaskLog, ...] = ()) -> TaskRecord:
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
        logs=logs,
    )


class TaskManager:
    """Starts, tracks, cancels and remembers tasks."""

    def __init__(self, store: Store, events: EventBus, *, retention: int = 1000,
                 log_limit: int = 500) -> None:
        self._store = store
        self._events = events
        self._retention = retention
        self._log_limit = log_limit
        self._kinds: dict[str, TaskKind] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._log_seq: dict[str, int] = {}
        self._stopping = False

    def register(self, kind: TaskKind) -> None:
        """Offer a kind of task to API clients (`POST /api/v1/tasks`)."""
        self._kinds[kind.name] = kind

    @property
    def kinds(self) -> dict[str, TaskKind]:
        """The kinds clients may create, by name."""
        return dict(self._kinds)

    def kind(self, name: str) -> TaskKind:
        """The registered kind called `name`; 400 naming the known ones otherwise."""
        try:
            return self._kinds[name]
        except KeyError:
            raise ValidationError(
                f"Unknown task type '{name}'",
                {"field": "type", "known": sorted(self._kinds)},
            ) from None

    @property
    def running_count(self) -> int:
        """How many tasks run right now."""
        return len(self._running)

    async def recover(self) -> int:
        """Mark the tasks a previous run left unfinished as failed; how many there were."""
        now = now_iso()
        count = await self._store.execute(
            "UPDATE tasks SET status = ?, error = ?, message = ?, completed = ?"
            " WHERE status IN (?, ?)",
            (TaskStatus.FAILED, INTERRUPTED_BY_RESTART, INTERRUPTED_BY_RESTART, now,
             TaskStatus.PENDING, TaskStatus.RUNNING),
        )
        if count:
            _LOGGER.warning("Marked %d task(s) interrupted by a restart as failed", count)
        return count

    async def create(self, kind_name: str, *, service: str | None = None,
                     params: dict[str, Any] | None = None, created_by: str | None = None) -> TaskRecord:
        """Start a registered kind of task for a client."""
        kind = self.kind(kind_name)
        return await self.start(kind.name, kind.runner, service=service, params=params,
                                created_by=created_by)

    async def start(self, task_type: str, runner: TaskRunner, *, service: str | None = None,
                    params: dict[str, Any] | None = None, created_by: str | None = None,
                    message: str = "Queued") -> TaskRecord:
        """Record a task and run `runner` in the background; returns the pending record."""
        task_id = f"task-{secrets.token_hex(8)}"
        params = dict(params or {})
        created = now_iso()
        await self._store.execute(
            f"INSERT INTO tasks ({_COLUMNS}) VALUES (?, ?, ?, ?, 0, ?, ?, NULL, NULL, ?, ?,"
            " NULL, NULL, NULL)",
            (task_id, task_type, service, TaskStatus.PENDING, message,
             msgspec.json.encode(params).decode(), created_by, created),
        )
        self._events.publish("task:created", {"taskId": task_id, "type": task_type,
                                               "service": service})
        context = TaskContext(task_id, service, params, self)
        self._running[task_id] = asyncio.create_task(self._run(context, runner),
                                                     name=f"homei-{task_id}")
        await self._prune()
        return await self.get(task_id, with_logs=False)

    async def _run(self, context: TaskContext, runner: TaskRunner) -> None:
        task_id = context.task_id
        started_at = monotonic()
        try:
            await self._store.execute(
                "UPDATE tasks SET status = ?, started = ?, message = ? WHERE id = ?",
                (TaskStatus.RUNNING, now_iso(), "Running", task_id),
            )
            self._events.publish("task:started", {"taskId": task_id})
            result = await runner(context)
        except asyncio.CancelledError:
            if self._stopping:
                await self._finish(task_id, TaskStatus.FAILED, started_at,
                                   message=INTERRUPTED_BY_RESTART, error=INTERRUPTED_BY_RESTART)
                self._events.publish("task:failed", {"taskId": task_id,
                                                     "error": INTERRUPTED_BY_RESTART})
            else:
                await self._finish(task_id, TaskStatus.CANCELLED, started_at,
                                   message="Cancelled", error="Cancelled")
                self._events.publish("task:cancelled", {"taskId": task_id})
            raise
        except Exception as err:  # a task's failure is its result, not the daemon's
            _LOGGER.warning("Task %s failed: %s", task_id, err,
                            exc_info=not hasattr(err, "code"))
            message = str(err) or type(err).__name__
            await self._finish(task_id, TaskStatus.FAILED, started_at, message=message,
                               error=message)
            self._events.publish("task:failed", {"taskId": task_id, "error": message})
        else:
            await self._finish(task_id, TaskStatus.COMPLETED, started_at,
                               message=context._message or "Completed", result=result or {},
                               progress=100)
            self._events.publish("task:completed", {"taskId": task_id, "result": result or {}})
        finally:
            self._running.pop(task_id, None)
            self._log_seq.pop(task_id, None)

    async def _finish(self, task_id: str, status: TaskStatus, started_at: float, *,
                      message: str, error: str | None = None,
                      result: dict[str, Any] | None = None, progress: int | None = None) -> None:
        # Shielded: the final state is written even when the task itself was cancelled.
        await asyncio.shield(self._store.execute(
            "UPDATE tasks SET status = ?, message = ?, error = ?, result = ?, completed = ?,"
            " duration = ?, progress = COALESCE(?, progress) WHERE id = ?",
            (status, message, error,
             msgspec.json.encode(result).decode() if result is not None else None,
             now_iso(), round(monotonic() - started_at, 3), progress, task_id),
        ))

    async def _record_progress(self, context: TaskContext, progress: int, message: str) -> None:
        await self._store.execute(
            "UPDATE tasks SET progress = ?, message = ? WHERE id = ?",
            (progress, message, context.task_id),
        )
        self._events.publish("task:progress", {"taskId": context.task_id, "progress": progress,
                                               "message": message})

    async def _append_log(self, task_id: str, level: str, message: str) -> None:
        seq = self._log_seq.get(task_id, 0) + 1
        self._log_seq[task_id] = seq
        if seq > self._log_limit:
            return
        await self._store.execute(
            "INSERT INTO task_logs (task_id, seq, timestamp, level, message) VALUES (?, ?, ?, ?, ?)",
            (task_id, seq, now_iso(), level, message[:4000]),
        )

    async def _prune(self) -> None:
        await self._store.execute(
            "DELETE FROM tasks WHERE status IN (?, ?, ?) AND id NOT IN"
            " (SELECT id FROM tasks ORDER BY created DESC LIMIT ?)",
            (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, self._retention),
        )

    async def get(self, task_id: str, *, with_logs: bool = True) -> TaskRecord:
        """One task, with its log lines; 404 `TASK_NOT_FOUND` if unknown."""
        row = await self._store.fetch_one(f"SELECT {_COLUMNS} FROM tasks WHERE id = ?", (task_id,))
        if row is None:
            raise TaskNotFound(f"Task '{task_id}' not found", {"taskId": task_id})
        logs: tuple[TaskLog, ...] = ()
        if with_logs:
            log_rows = await self._store.fetch_all(
                "SELECT timestamp, level, message FROM task_logs WHERE task_id = ? ORDER BY seq",
                (task_id,),
            )
            logs = tuple(TaskLog(r["timestamp"], r["level"], r["message"]) for r in log_rows)
        return _row_to_record(row, logs)

    async def list(self, *, status: TaskStatus | None = None, service: str | None = None,
                   task_type: str | None = None, since: str | None = None,
                   limit: int = 50, offset: int = 0) -> tuple[list[TaskRecord], int]:
        """Tasks newest first, filtered; the page and the total that matched."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("status", status), ("service", service), ("type", task_type)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(str(value))
        if since is not None:
            clauses.append("created >= ?")
            params.append(since)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        # One round trip: the window function carries the total on every row.
        rows = await self._store.fetch_all(
            f"SELECT {_COLUMNS}, COUNT(*) OVER () AS total FROM tasks{where}"
            " ORDER BY created DESC, id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        if rows:
            return [_row_to_record(row) for row in rows], int(rows[0]["total"])
        if offset == 0:
            return [], 0
        count = await self._store.fetch_one(f"SELECT COUNT(*) FROM tasks{where}", params)
        return [], int(count[0]) if count else 0

    async def cancel(self, task_id: str) -> TaskRecord:
        """Cancel a pending or running task; 409 when it has already finished."""
        record = await self.get(task_id, with_logs=False)
        running = self._running.get(task_id)
        if record.status.is_finished or running is None:
            raise Conflict(f"Task '{task_id}' has already finished ({record.status})",
                           {"taskId": task_id, "status": str(record.status)})
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        return await self.get(task_id)

    async def wait(self, task_id: str) -> TaskRecord:
        """Wait for a task this process runs to finish; its final record."""
        running = self._running.get(task_id)
        if running is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(running)
        return await self.get(task_id)

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel whatever still runs and record it as interrupted."""
        self._stopping = True
        running = list(self._running.values())
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=timeout)
        await self.recover()
