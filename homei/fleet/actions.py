"""The server's actions as this device works through them, kept in SQLite so that feedback
decided by a reboot (the health gate's verdict) is still sent after it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

from homei.core.clock import now_iso
from homei.core.store import Migration, Store

MIGRATIONS = (
    Migration(
        "fleet",
        1,
        """
        CREATE TABLE fleet_actions (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            artefact TEXT,
            version TEXT,
            bundle TEXT,
            task_id TEXT,
            message TEXT NOT NULL DEFAULT '',
            outcome TEXT,
            reported INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        );
        """,
    ),
)


class ActionState(StrEnum):
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # the owner's consent is asked for
    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"  # waiting for the server (or the maintenance window) to install
    INSTALLING = "installing"
    INSTALLED = "installed"  # written to the other slot; the boot health gate decides
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    DENIED = "denied"


FINAL = frozenset(
    {ActionState.SUCCEEDED, ActionState.FAILED, ActionState.CANCELED, ActionState.DENIED}
)


class FleetAction(msgspec.Struct, frozen=True):
    id: str
    kind: str  # deployment or confirmation
    state: ActionState
    artefact: str | None
    version: str | None
    bundle: str | None
    task_id: str | None
    message: str
    outcome: str | None  # success or failure, once the action ended
    reported: bool  # the final feedback reached the server
    created: str
    updated: str


def _action(row: Any) -> FleetAction:
    return FleetAction(
        row["id"],
        row["kind"],
        ActionState(row["state"]),
        row["artefact"],
        row["version"],
        row["bundle"],
        row["task_id"],
        row["message"],
        row["outcome"],
        bool(row["reported"]),
        row["created"],
        row["updated"],
    )


class ActionStore:
    """The `fleet_actions` table."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, action_id: str) -> FleetAction | None:
        """One action by the server's id."""
        row = await self._store.fetch_one("SELECT * FROM fleet_actions WHERE id = ?", (action_id,))
        return _action(row) if row is not None else None

    async def put(self, action_id: str, kind: str, state: ActionState, **fields: Any) -> None:
        """Record an action the server sent (kept as it is when known already)."""
        now = now_iso()
        await self._store.execute(
            "INSERT OR IGNORE INTO fleet_actions (id, kind, state, artefact, version, message,"
            " created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                action_id,
                kind,
                str(state),
                fields.get("artefact"),
                fields.get("version"),
                fields.get("message", ""),
                now,
                now,
            ),
        )

    async def update(self, action_id: str, **fields: Any) -> None:
        """Change some fields of one action."""
        fields["updated"] = now_iso()
        columns = ", ".join(f"{name} = ?" for name in fields)
        values = [str(v) if isinstance(v, StrEnum) else v for v in fields.values()]
        await self._store.execute(
            f"UPDATE fleet_actions SET {columns} WHERE id = ?", (*values, action_id)
        )

    async def unreported(self) -> list[FleetAction]:
        """Actions whose outcome is known, or still to be decided, but not yet told."""
        rows = await self._store.fetch_all(
            "SELECT * FROM fleet_actions WHERE reported = 0 ORDER BY created"
        )
        return [_action(r) for r in rows]

    async def open(self) -> list[FleetAction]:
        """Actions not yet final, oldest first."""
        placeholders = ", ".join("?" for _ in FINAL)
        rows = await self._store.fetch_all(
            f"SELECT * FROM fleet_actions WHERE state NOT IN ({placeholders}) ORDER BY created",
            tuple(str(s) for s in FINAL),
        )
        return [_action(r) for r in rows]

    async def recent(self, limit: int = 20) -> list[FleetAction]:
        """Newest first."""
        rows = await self._store.fetch_all(
            "SELECT * FROM fleet_actions ORDER BY updated DESC LIMIT ?", (limit,)
        )
        return [_action(r) for r in rows]
