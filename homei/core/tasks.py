"""Tracked background work: every long operation is a task with progress, logs and a result.

Tasks live in SQLite so their outcome survives the daemon; one interrupted by a
restart is marked failed on the next start, never left "running" forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from homei.core.clock import isoformat, monotonic, now_iso
from homei.core.errors import Conflict, TaskNotFound, ValidationError
from homei.core.events import EventBus
from homei.core.store import Store
from homei.core.task_records import (
    COLUMNS,
    INTERRUPTED_BY_RESTART,
    MIGRATIONS,
    TaskContext,
    TaskKind,
    TaskLog,
    TaskRecord,
    TaskRunner,
    TaskStatus,
    row_to_record,
)

__all__ = [
    "INTERRUPTED_BY_RESTART",
    "MIGRATIONS",
    "TaskContext",
    "TaskKind",
    "TaskLog",
    "TaskManager",
    "TaskRecord",
    "TaskRunner",
    "TaskStatus",
]

_LOGGER = logging.getLogger(__name__)


class TaskManager:
    """Starts, tracks, cancels and remembers tasks.

    The retained tasks are also held in memory, written through to SQLite first,
    so listing them never waits on the database.
    """

    def __init__(
        self, store: Store, events: EventBus, *, retention: int = 1000, log_limit: int = 500
    ) -> None:
        self._store = store
        self._events = events
        self._retention = retention
        self._log_limit = log_limit
        self._kinds: dict[str, TaskKind] = {}
        self._records: dict[str, TaskRecord] = {}
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

    async def load(self) -> int:
        """Mark the tasks a previous run left unfinished as failed, then load the retained
        tasks; returns how many had been interrupted."""
        count = await self._store.execute(
            "UPDATE tasks SET status = ?, error = ?, message = ?, completed = ?"
            " WHERE status IN (?, ?)",
            (
                TaskStatus.FAILED,
                INTERRUPTED_BY_RESTART,
                INTERRUPTED_BY_RESTART,
                now_iso(),
                TaskStatus.PENDING,
                TaskStatus.RUNNING,
            ),
        )
        if count:
            _LOGGER.warning("Marked %d task(s) interrupted by a restart as failed", count)
        rows = await self._store.fetch_all(f"SELECT {COLUMNS} FROM tasks ORDER BY created, rowid")
        self._records = {row["id"]: row_to_record(row) for row in rows}
        return count

    async def create(
        self,
        kind_name: str,
        *,
        service: str | None = None,
        params: dict[str, Any] | None = None,
        created_by: str | None = None,
    ) -> TaskRecord:
        """Start a registered kind of task for a client."""
        kind = self.kind(kind_name)
        return await self.start(
            kind.name, kind.runner, service=service, params=params, created_by=created_by
        )

    async def start(
        self,
        task_type: str,
        runner: TaskRunner,
        *,
        service: str | None = None,
        params: dict[str, Any] | None = None,
        created_by: str | None = None,
        message: str = "Queued",
    ) -> TaskRecord:
        """Record a task and run `runner` in the background; returns the pending record."""
        record = TaskRecord(
            id=f"task-{secrets.token_hex(8)}",
            type=task_type,
            service=service,
            status=TaskStatus.PENDING,
            progress=0,
            message=message,
            params=dict(params or {}),
            result=None,
            error=None,
            created_by=created_by,
            created=now_iso(),
            started=None,
            completed=None,
            duration=None,
        )
        await self._store.execute(
            f"INSERT INTO tasks ({COLUMNS}) VALUES (?, ?, ?, ?, 0, ?, ?, NULL, NULL, ?, ?,"
            " NULL, NULL, NULL)",
            (
                record.id,
                task_type,
                service,
                record.status,
                message,
                msgspec.json.encode(record.params).decode(),
                created_by,
                record.created,
            ),
        )
        self._records[record.id] = record
        self._events.publish(
            "task:created", {"taskId": record.id, "type": task_type, "service": service}
        )
        context = TaskContext(record.id, service, record.params, self)
        self._running[record.id] = asyncio.create_task(
            self._run(context, runner), name=f"homei-{record.id}"
        )
        await self._prune()
        return record

    async def _update(self, task_id: str, **changes: Any) -> None:
        """Write changed columns to the database, then to the in-memory record."""
        columns = ", ".join(f"{name} = ?" for name in changes)
        values = [
            msgspec.json.encode(v).decode() if name == "result" and v is not None else v
            for name, v in changes.items()
        ]
        await self._store.execute(f"UPDATE tasks SET {columns} WHERE id = ?", (*values, task_id))
        record = self._records.get(task_id)
        if record is not None:
            self._records[task_id] = dataclasses.replace(record, **changes)

    async def _run(self, context: TaskContext, runner: TaskRunner) -> None:
        task_id = context.task_id
        started_at = monotonic()
        try:
            await self._update(
                task_id, status=TaskStatus.RUNNING, started=now_iso(), message="Running"
            )
            self._events.publish("task:started", {"taskId": task_id})
            result = await runner(context)
        except asyncio.CancelledError:
            if self._stopping:
                await self._finish(
                    task_id,
                    TaskStatus.FAILED,
                    started_at,
                    message=INTERRUPTED_BY_RESTART,
                    error=INTERRUPTED_BY_RESTART,
                )
                self._events.publish(
                    "task:failed", {"taskId": task_id, "error": INTERRUPTED_BY_RESTART}
                )
            else:
                await self._finish(
                    task_id,
                    TaskStatus.CANCELLED,
                    started_at,
                    message="Cancelled",
                    error="Cancelled",
                )
                self._events.publish("task:cancelled", {"taskId": task_id})
            raise
        except Exception as err:  # a task's failure is its result, not the daemon's
            _LOGGER.warning("Task %s failed: %s", task_id, err, exc_info=not hasattr(err, "code"))
            message = str(err) or type(err).__name__
            await self._finish(
                task_id, TaskStatus.FAILED, started_at, message=message, error=message
            )
            self._events.publish("task:failed", {"taskId": task_id, "error": message})
        else:
            await self._finish(
                task_id,
                TaskStatus.COMPLETED,
                started_at,
                message=context._message or "Completed",
                result=result or {},
                progress=100,
            )
            self._events.publish("task:completed", {"taskId": task_id, "result": result or {}})
            _LOGGER.info(
                "Task %s (%s) completed in %.1fs",
                task_id,
                self._records[task_id].type if task_id in self._records else "?",
                monotonic() - started_at,
            )
        finally:
            self._running.pop(task_id, None)
            self._log_seq.pop(task_id, None)

    async def _finish(
        self,
        task_id: str,
        status: TaskStatus,
        started_at: float,
        *,
        message: str,
        error: str | None = None,
        result: dict[str, Any] | None = None,
        progress: int | None = None,
    ) -> None:
        changes: dict[str, Any] = {
            "status": status,
            "message": message,
            "error": error,
            "result": result,
            "completed": now_iso(),
            "duration": round(monotonic() - started_at, 3),
        }
        if progress is not None:
            changes["progress"] = progress
        # Shielded: the final state is written even when the task itself was cancelled.
        await asyncio.shield(self._update(task_id, **changes))

    async def record_progress(self, task_id: str, progress: int, message: str) -> None:
        """Store and publish a running task's progress."""
        await self._update(task_id, progress=progress, message=message)
        self._events.publish(
            "task:progress", {"taskId": task_id, "progress": progress, "message": message}
        )

    async def append_log(self, task_id: str, level: str, message: str) -> None:
        """Append a line to a task's log (bounded per task)."""
        seq = self._log_seq.get(task_id, 0) + 1
        self._log_seq[task_id] = seq
        if seq > self._log_limit:
            return
        await self._store.execute(
            "INSERT INTO task_logs (task_id, seq, timestamp, level, message)"
            " VALUES (?, ?, ?, ?, ?)",
            (task_id, seq, now_iso(), level, message[:4000]),
        )

    async def _prune(self) -> None:
        excess = len(self._records) - self._retention
        if excess <= 0:
            return
        doomed = [r.id for r in self._records.values() if r.status.is_finished][:excess]
        if not doomed:
            return
        marks = ", ".join("?" for _ in doomed)
        await self._store.execute(f"DELETE FROM tasks WHERE id IN ({marks})", doomed)
        for task_id in doomed:
            self._records.pop(task_id, None)

    async def get(self, task_id: str, *, with_logs: bool = True) -> TaskRecord:
        """One task, with its log lines; 404 `TASK_NOT_FOUND` if unknown."""
        record = self._records.get(task_id)
        if record is None:
            raise TaskNotFound(f"Task '{task_id}' not found", {"taskId": task_id})
        if not with_logs:
            return record
        log_rows = await self._store.fetch_all(
            "SELECT timestamp, level, message FROM task_logs WHERE task_id = ? ORDER BY seq",
            (task_id,),
        )
        logs = tuple(TaskLog(r["timestamp"], r["level"], r["message"]) for r in log_rows)
        return dataclasses.replace(record, logs=logs)

    def list(
        self,
        *,
        status: TaskStatus | None = None,
        service: str | None = None,
        task_type: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[TaskRecord], int]:
        """Tasks newest first, filtered; the page and the total that matched."""
        after = isoformat(since) if since is not None else None
        matched = [
            r
            for r in reversed(self._records.values())
            if (status is None or r.status is status)
            and (service is None or r.service == service)
            and (task_type is None or r.type == task_type)
            and (after is None or r.created >= after)
        ]
        return matched[offset : offset + limit], len(matched)

    def when_finished(self, task_id: str, callback: Callable[[], None]) -> None:
        """Call `callback` once task `task_id` has ended, however it ends (at once if it
        has); what a task holds is released this way even when it never ran."""
        running = self._running.get(task_id)
        if running is None:
            callback()
        else:
            running.add_done_callback(lambda _: callback())

    async def cancel(self, task_id: str) -> TaskRecord:
        """Cancel a pending or running task; 409 when it has already finished."""
        record = await self.get(task_id, with_logs=False)
        running = self._running.get(task_id)
        if record.status.is_finished or running is None:
            raise Conflict(
                f"Task '{task_id}' has already finished ({record.status})",
                {"taskId": task_id, "status": str(record.status)},
            )
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        if not self._records[task_id].status.is_finished:
            # Cancelled before its first step: `_run` never ran to record the outcome.
            self._running.pop(task_id, None)
            await self._finish(
                task_id, TaskStatus.CANCELLED, monotonic(), message="Cancelled", error="Cancelled"
            )
            self._events.publish("task:cancelled", {"taskId": task_id})
        return await self.get(task_id)

    async def wait(self, task_id: str) -> TaskRecord:
        """Wait for a task this process runs to finish; its final record."""
        running = self._running.get(task_id)
        if running is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(running)
        return await self.get(task_id)

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel whatever still runs; each is recorded as interrupted."""
        self._stopping = True
        running = list(self._running.values())
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=timeout)
