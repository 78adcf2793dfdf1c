"""The retained tasks: rows in SQLite, mirrored in memory so that listing them never waits
on the database. `TaskManager` (in `tasks.py`) runs tasks and records them here."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import msgspec

from homei.core.clock import isoformat, now_iso
from homei.core.errors import TaskNotFound
from homei.core.store import Store
from homei.core.task_records import (
    COLUMNS,
    INTERRUPTED_BY_RESTART,
    TaskLog,
    TaskRecord,
    TaskStatus,
    row_to_record,
)

_LOGGER = logging.getLogger(__name__)

LOG_LINE_LIMIT = 4000


class TaskHistory:
    """Every retained task, written to SQLite first and then to memory; at most `retention`
    finished ones are kept, and at most `log_limit` log lines per task."""

    def __init__(self, store: Store, *, retention: int, log_limit: int) -> None:
        self._store = store
        self._retention = retention
        self._log_limit = log_limit
        self._records: dict[str, TaskRecord] = {}
        self._log_seq: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._records)

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
        await self._prune()
        return count

    async def add(self, record: TaskRecord) -> None:
        """Store a new task, then forget the oldest finished ones beyond the retention."""
        await self._store.execute(
            f"INSERT INTO tasks ({COLUMNS}) VALUES (?, ?, ?, ?, 0, ?, ?, NULL, NULL, ?, ?,"
            " NULL, NULL, NULL)",
            (
                record.id,
                record.type,
                record.service,
                record.status,
                record.message,
                msgspec.json.encode(record.params).decode(),
                record.created_by,
                record.created,
            ),
        )
        self._records[record.id] = record
        await self._prune()

    async def update(self, task_id: str, **changes: Any) -> None:
        """Write changed columns to the database, then to the in-memory record."""
        columns = ", ".join(f"{name} = ?" for name in changes)
        values = [
            msgspec.json.encode(v).decode() if name == "result" and v is not None else v
            for name, v in changes.items()
        ]
        await self._store.execute(f"UPDATE tasks SET {columns} WHERE id = ?", (*values, task_id))
        record = self._records.get(task_id)
        if record is not None:
            self._records[task_id] = msgspec.structs.replace(record, **changes)

    async def append_log(self, task_id: str, level: str, message: str) -> None:
        """Append a line to a task's log; lines beyond the limit are dropped."""
        seq = self._log_seq.get(task_id, 0) + 1
        self._log_seq[task_id] = seq
        if seq > self._log_limit:
            return
        await self._store.execute(
            "INSERT INTO task_logs (task_id, seq, timestamp, level, message)"
            " VALUES (?, ?, ?, ?, ?)",
            (task_id, seq, now_iso(), level, message[:LOG_LINE_LIMIT]),
        )

    def finished(self, task_id: str) -> None:
        """A task stopped running: its log counter is no longer needed."""
        self._log_seq.pop(task_id, None)

    async def remove(self, task_id: str) -> None:
        """Delete a task and its log lines."""
        await self._store.execute("DELETE FROM tasks WHERE id = ?", (task_id,))
        self._records.pop(task_id, None)
        self._log_seq.pop(task_id, None)

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

    def find(self, task_id: str) -> TaskRecord | None:
        """One task without its log, or None."""
        return self._records.get(task_id)

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
        return msgspec.structs.replace(record, logs=logs)

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
