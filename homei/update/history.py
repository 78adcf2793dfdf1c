"""Homei's own record of every update: what was installed, from what, and how it ended."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

from homei.core.clock import now_iso
from homei.core.store import Migration, Store

MIGRATIONS = (
    Migration(
        "update",
        1,
        """
        CREATE TABLE update_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            task_id TEXT,
            bundle TEXT NOT NULL,
            compatible TEXT,
            from_version TEXT,
            to_version TEXT,
            from_slot TEXT,
            to_slot TEXT,
            result TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            started TEXT NOT NULL,
            completed TEXT,
            verified TEXT
        );
        """,
    ),
)


class UpdateResult(StrEnum):
    INSTALLING = "installing"
    INSTALLED = "installed"  # written to the other slot; waiting for the boot into it
    FAILED = "failed"  # RAUC refused or failed; the slots are as they were
    GOOD = "good"  # booted into, passed the health gate, marked good
    BAD = "bad"  # booted into, failed the health gate, marked bad, rebooted
    ROLLED_BACK = "rolled_back"  # the bootloader came back to the old slot by itself
    INTERRUPTED = "interrupted"  # Homei stopped while RAUC was installing


class HistoryEntry(msgspec.Struct, frozen=True):
    id: int
    task_id: str | None
    bundle: str
    compatible: str | None
    from_version: str | None
    to_version: str | None
    from_slot: str | None
    to_slot: str | None
    result: UpdateResult
    message: str
    started: str
    completed: str | None
    verified: str | None


def _entry(row: Any) -> HistoryEntry:
    return HistoryEntry(
        row["id"],
        row["task_id"],
        row["bundle"],
        row["compatible"],
        row["from_version"],
        row["to_version"],
        row["from_slot"],
        row["to_slot"],
        UpdateResult(row["result"]),
        row["message"],
        row["started"],
        row["completed"],
        row["verified"],
    )


class UpdateHistory:
    """The `update_history` table."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def begin(
        self, task_id: str, bundle: str, from_slot: str | None, from_version: str | None
    ) -> int:
        """Record an install that is starting; its id."""
        await self._store.execute(
            "INSERT INTO update_history (task_id, bundle, from_slot, from_version, result, started)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (task_id, bundle, from_slot, from_version, UpdateResult.INSTALLING, now_iso()),
        )
        row = await self._store.fetch_one(
            "SELECT id FROM update_history WHERE task_id = ? ORDER BY id DESC LIMIT 1", (task_id,)
        )
        assert row is not None
        return int(row[0])

    async def update(self, entry_id: int, **fields: Any) -> None:
        """Change some fields of one entry."""
        columns = ", ".join(f"{name} = ?" for name in fields)
        await self._store.execute(
            f"UPDATE update_history SET {columns} WHERE id = ?", (*fields.values(), entry_id)
        )

    async def finish(
        self, entry_id: int, result: UpdateResult, message: str, **fields: Any
    ) -> None:
        """Record how an install ended."""
        await self.update(
            entry_id, result=str(result), message=message, completed=now_iso(), **fields
        )

    async def verdict(self, entry_id: int, result: UpdateResult, message: str) -> None:
        """Record the boot health gate's verdict (or the bootloader's rollback)."""
        await self.update(entry_id, result=str(result), message=message, verified=now_iso())

    async def awaiting_boot(self) -> HistoryEntry | None:
        """The newest install that was written but has no verdict yet."""
        row = await self._store.fetch_one(
            "SELECT * FROM update_history WHERE result = ? ORDER BY id DESC LIMIT 1",
            (UpdateResult.INSTALLED,),
        )
        return _entry(row) if row is not None else None

    async def by_task(self, task_id: str) -> HistoryEntry | None:
        """The install a task ran."""
        row = await self._store.fetch_one(
            "SELECT * FROM update_history WHERE task_id = ? ORDER BY id DESC LIMIT 1", (task_id,)
        )
        return _entry(row) if row is not None else None

    async def interrupted(self) -> int:
        """Mark installs a stop of Homei cut off; how many there were."""
        return await self._store.execute(
            "UPDATE update_history SET result = ?, message = ?, completed = ? WHERE result = ?",
            (
                UpdateResult.INTERRUPTED,
                "Homei stopped while RAUC was installing",
                now_iso(),
                UpdateResult.INSTALLING,
            ),
        )

    async def list(self, limit: int = 50) -> list[HistoryEntry]:
        """Newest first."""
        rows = await self._store.fetch_all(
            "SELECT * FROM update_history ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [_entry(r) for r in rows]
