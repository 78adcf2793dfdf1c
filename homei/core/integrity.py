"""The `database_check` task: SQLite's integrity check of the device database, on demand."""

from __future__ import annotations

from typing import Any

from homei.core.auth import Permission
from homei.core.store import Store
from homei.core.tasks import TaskContext, TaskKind


def database_check_kind(store: Store) -> TaskKind:
    async def run(context: TaskContext) -> dict[str, Any]:
        await context.progress(10, "Checking the database")
        problems = [line for line in await store.integrity_check() if line != "ok"]
        await context.log("integrity_check: " + ("ok" if not problems else "; ".join(problems)))
        if problems:
            raise RuntimeError(f"Database integrity check found {len(problems)} problem(s)")
        return {"success": True, "message": "Database integrity check passed"}

    return TaskKind(
        "database_check",
        run,
        Permission.CONTROL,
        "Run SQLite's integrity check on the device database",
    )
