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
from datetime import datetime
from typing import Any

import msgspec

from homei.core.clock import monotonic, now_iso
from homei.core.errors import Conflict, ValidationError
from homei.core.events import EventBus
from homei.core.store import Store
from homei.core.task_history import TaskHistory
from homei.core.task_records import (
    INTERRUPTED_BY_RESTART,
    MIGRATIONS,
    TaskContext,
    TaskKind,
    TaskLog,
    TaskRecord,
    TaskRequest,
    TaskRunner,
    TaskStatus,
)

__all__ = [
    "INTERRUPTED_BY_RESTART",
    "MIGRATIONS",
    "TaskContext",
    "TaskKind",
    "TaskLog",
    "TaskManager",
    "TaskRecord",
    "TaskRequest",
    "TaskRunner",
    "TaskStatus",
]

_LOGGER = logging.getLogger(__name__)

# Every retained task is held in memory with its config: a client's config is kept small.
MAX_PARAMS_SIZE = 16 * 1024


class TaskManager:
    """Starts, tracks, cancels and deletes tasks; `TaskHistory` remembers them."""

    def __init__(
        self, store: Store, events: EventBus, *, retention: int = 1000, log_limit: int = 500
    ) -> None:
        self._history = TaskHistory(store, retention=retention, log_limit=log_limit)
        self._events = events
        self._kinds: dict[str, TaskKind] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    def register(self, kind: TaskKind) -> None:
        """Offer a kind of task to API clients (`POST /api/v1/tasks`); a kind registered
        again under the same name replaces the earlier one."""
        if (kind.runner is None) == (kind.starter is None):
            raise ValueError(f"Task kind '{kind.name}' needs a runner or a starter")
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

    @property
    def retained_count(self) -> int:
        """How many tasks are remembered (running and finished)."""
        return len(self._history)

    async def load(self) -> int:
        """Mark the tasks a previous run left unfinished as failed, then load the retained
        tasks; returns how many had been interrupted."""
        return await self._history.load()

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
        if len(msgspec.json.encode(params or {})) > MAX_PARAMS_SIZE:
            raise ValidationError(
                f"A task's config may take at most {MAX_PARAMS_SIZE} bytes of JSON",
                {"field": "config", "limit": MAX_PARAMS_SIZE},
            )
        if kind.starter is not None:
            return await kind.starter(TaskRequest(dict(params or {}), service, created_by))
        assert kind.runner is not None
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
        await self._history.add(record)
        self._events.publish(
            "task:created", {"taskId": record.id, "type": task_type, "service": service}
        )
        context = TaskContext(record.id, service, record.params, self)
        self._running[record.id] = asyncio.create_task(
            self._run(context, runner), name=f"homei-{record.id}"
        )
        return record

    async def _run(self, context: TaskContext, runner: TaskRunner) -> None:
        task_id = context.task_id
        started_at = monotonic()
        try:
            await self._history.update(
                task_id, status=TaskStatus.RUNNING, started=now_iso(), message="Running"
            )
            self._events.publish("task:started", {"taskId": task_id})
            result = await runner(context)
        except asyncio.CancelledError:
            # Cancelled by a client, or interrupted because the daemon stops.
            status, reason = (
                (TaskStatus.FAILED, INTERRUPTED_BY_RESTART)
                if self._stopping
                else (TaskStatus.CANCELLED, "Cancelled")
            )
            await self._finish(task_id, status, started_at, message=reason, error=reason)
            data = {"taskId": task_id, "error": reason} if self._stopping else {"taskId": task_id}
            self._events.publish(f"task:{status}", data)
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
            _LOGGER.info("Task %s completed in %.1fs", task_id, monotonic() - started_at)
        finally:
            self._running.pop(task_id, None)
            self._history.finished(task_id)

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
        await asyncio.shield(self._history.update(task_id, **changes))

    async def record_progress(self, task_id: str, progress: int, message: str) -> None:
        """Store and publish a running task's progress."""
        await self._history.update(task_id, progress=progress, message=message)
        self._events.publish(
            "task:progress", {"taskId": task_id, "progress": progress, "message": message}
        )

    async def append_log(self, task_id: str, level: str, message: str) -> None:
        """Append a line to a task's log (bounded per task)."""
        await self._history.append_log(task_id, level, message)

    async def get(self, task_id: str, *, with_logs: bool = True) -> TaskRecord:
        """One task, with its log lines; 404 `TASK_NOT_FOUND` if unknown."""
        return await self._history.get(task_id, with_logs=with_logs)

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
        return self._history.list(
            status=status,
            service=service,
            task_type=task_type,
            since=since,
            limit=limit,
            offset=offset,
        )

    async def cancel(self, task_id: str) -> TaskRecord:
        """Cancel a pending or running task, keeping its record; 409 when it has already
        finished."""
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
        return await self.get(task_id)

    async def delete(self, task_id: str) -> TaskRecord:
        """Cancel a task that has not finished, then delete it and its log (404 from then
        on); returns its last record."""
        if task_id in self._running:
            with contextlib.suppress(Conflict):  # it finished meanwhile
                await self.cancel(task_id)
        record = await self.get(task_id)
        await self._history.remove(task_id)
        self._events.publish("task:deleted", {"taskId": task_id})
        return record

    async def wait(self, task_id: str) -> TaskRecord:
        """Wait for a task this process runs to finish; its final record. One deleted
        meanwhile was cancelled by that, and is answered as such."""
        last = await self.get(task_id, with_logs=False)
        running = self._running.get(task_id)
        if running is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(running)
        if self._history.find(task_id) is None:
            return dataclasses.replace(last, status=TaskStatus.CANCELLED, error="Deleted")
        return await self.get(task_id)

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel whatever still runs; each is recorded as interrupted."""
        self._stopping = True
        running = list(self._running.values())
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=timeout)
