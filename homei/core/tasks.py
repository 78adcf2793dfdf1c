"""Tracked background work: every long operation is a task with progress, logs and a result.

Tasks live in SQLite so their outcome survives the daemon; one interrupted by a
restart is marked failed on the next start, never left "running" forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

import msgspec

from homei.core.clock import monotonic, now_iso
from homei.core.errors import Conflict, redact
from homei.core.events import EventBus
from homei.core.store import Store
from homei.core.task_history import TaskHistory
from homei.core.task_records import (
    INTERRUPTED_BY_RESTART,
    MIGRATIONS,
    TaskContext,
    TaskKind,
    TaskKinds,
    TaskLog,
    TaskRecord,
    TaskRequest,
    TaskRunner,
    TaskStatus,
    check_config,
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


class TaskManager:
    """Starts, tracks, cancels and deletes tasks; `TaskHistory` remembers them."""

    def __init__(
        self, store: Store, events: EventBus, *, retention: int = 1000, log_limit: int = 500
    ) -> None:
        self._history = TaskHistory(store, retention=retention, log_limit=log_limit)
        self._events = events
        self._kinds = TaskKinds()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    def register(self, kind: TaskKind) -> None:
        """Offer a kind of task to API clients (`POST /api/v1/tasks`); a kind registered
        again under the same name replaces the earlier one."""
        self._kinds.register(kind)

    @property
    def kinds(self) -> dict[str, TaskKind]:
        """The kinds clients may create, by name."""
        return self._kinds.all()

    def kind(self, name: str) -> TaskKind:
        """The registered kind called `name`; 400 naming the known ones otherwise."""
        return self._kinds.get(name)

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
        check_config(params or {})
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
            if self._stopping:
                self._events.publish("task:failed", {"taskId": task_id, "error": reason})
            else:
                self._events.publish("task:cancelled", {"taskId": task_id})
            raise
        except Exception as err:  # a task's failure is its result, not the daemon's
            _LOGGER.warning("Task %s failed: %s", task_id, err, exc_info=not hasattr(err, "code"))
            message = redact(str(err)) or type(err).__name__  # folders stay in the log
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

    def list(self, **filters: Any) -> tuple[list[TaskRecord], int]:
        """Tasks newest first, filtered as `TaskHistory.list` filters; the page and the total
        that matched."""
        return self._history.list(**filters)

    def when_finished(self, task_id: str, callback: Callable[[], None]) -> None:
        """Call `callback` once task `task_id` has ended, however it ends (at once if it
        has); what a task holds is released this way even when it never ran."""
        running = self._running.get(task_id)
        if running is None:
            callback()
        else:
            running.add_done_callback(lambda _: callback())

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
        current = self._history.find(task_id)
        if current is not None and not current.status.is_finished:
            # Cancelled before its first step: `_run` never ran to record the outcome.
            self._running.pop(task_id, None)
            self._history.finished(task_id)
            await self._finish(
                task_id, TaskStatus.CANCELLED, monotonic(), message="Cancelled", error="Cancelled"
            )
            self._events.publish("task:cancelled", {"taskId": task_id})
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
            return msgspec.structs.replace(last, status=TaskStatus.CANCELLED, error="Deleted")
        return await self.get(task_id)

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel whatever still runs; each is recorded as interrupted."""
        self._stopping = True
        running = list(self._running.values())
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=timeout)
