"""Alerts in SQLite: one open alert per rule and subject, and the outbox of their
notifications, written in the same transaction as the change they announce."""

from __future__ import annotations

import json
import secrets
import time
from enum import StrEnum
from typing import Any

import msgspec

from homei.core.clock import from_epoch
from homei.core.store import Migration, Store

MIGRATIONS = (
    Migration(
        "alerts",
        1,
        """
        CREATE TABLE alerts (
            id TEXT PRIMARY KEY,
            rule TEXT NOT NULL,
            subject TEXT NOT NULL,
            level TEXT NOT NULL,
            source TEXT NOT NULL,
            message TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}',
            state TEXT NOT NULL,
            fired_at REAL NOT NULL,
            resolved_at REAL,
            acknowledged_at REAL,
            acknowledged_by TEXT
        );
        CREATE UNIQUE INDEX alerts_open ON alerts (rule, subject) WHERE state = 'firing';
        CREATE INDEX alerts_fired ON alerts (fired_at);
        CREATE TABLE alert_outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            alert_id TEXT NOT NULL,
            change TEXT NOT NULL,
            channel TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX alert_outbox_channel ON alert_outbox (channel, id);
        CREATE TABLE alert_settings (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            body TEXT NOT NULL
        );
        """,
    ),
)


class Level(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Its order among the levels, info lowest."""
        return _RANKS[self]


_RANKS = {Level.INFO: 0, Level.WARNING: 1, Level.ERROR: 2, Level.CRITICAL: 3}


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Finding(msgspec.Struct, frozen=True):
    """What a rule found about one subject: the makings of an alert."""

    rule: str
    subject: str
    level: Level
    source: str
    message: str
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class AlertRecord(msgspec.Struct, frozen=True):
    id: str
    rule: str
    subject: str
    level: Level
    source: str
    message: str
    details: dict[str, Any]
    state: AlertState
    fired_at: float
    resolved_at: float | None
    acknowledged_at: float | None
    acknowledged_by: str | None

    def as_wire(self) -> dict[str, Any]:
        """002's alert, with the state, both times and the acknowledgement beside it."""
        return {
            "id": self.id,
            "timestamp": from_epoch(self.fired_at),
            "level": str(self.level),
            "message": self.message,
            "source": self.source,
            "details": self.details,
            "rule": self.rule,
            "subject": self.subject,
            "state": str(self.state),
            "firedAt": from_epoch(self.fired_at),
            "resolvedAt": from_epoch(self.resolved_at) if self.resolved_at else None,
            "acknowledgedAt": from_epoch(self.acknowledged_at) if self.acknowledged_at else None,
            "acknowledgedBy": self.acknowledged_by,
        }


class Delivery(msgspec.Struct, frozen=True):
    """One notification waiting in the outbox."""

    id: int
    alert_id: str
    change: str
    channel: str
    attempts: int


class AlertQuery(msgspec.Struct, frozen=True):
    level: Level | None = None
    state: AlertState | None = None
    since: float | None = None
    limit: int = 100
    offset: int = 0


_COLUMNS = (
    "id, rule, subject, level, source, message, details, state, fired_at, resolved_at,"
    " acknowledged_at, acknowledged_by"
)


def _record(row: Any) -> AlertRecord:
    return AlertRecord(
        row["id"],
        row["rule"],
        row["subject"],
        Level(row["level"]),
        row["source"],
        row["message"],
        json.loads(row["details"]),
        AlertState(row["state"]),
        row["fired_at"],
        row["resolved_at"],
        row["acknowledged_at"],
        row["acknowledged_by"],
    )


def _outbox(alert_id: str, change: str, channels: list[str], at: float) -> list[Any]:
    return [
        (
            "INSERT INTO alert_outbox (alert_id, change, channel, created_at) VALUES (?, ?, ?, ?)",
            (alert_id, change, channel, at),
        )
        for channel in channels
    ]


class AlertStore:
    """The alerts table and its outbox."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def firing(self) -> list[AlertRecord]:
        """Every open alert."""
        rows = await self._store.fetch_all(
            f"SELECT {_COLUMNS} FROM alerts WHERE state = 'firing' ORDER BY fired_at"
        )
        return [_record(row) for row in rows]

    async def get(self, alert_id: str) -> AlertRecord | None:
        """One alert by id."""
        row = await self._store.fetch_one(
            f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)
        )
        return _record(row) if row else None

    async def fire(self, finding: Finding, channels: list[str], at: float) -> AlertRecord:
        """Open an alert and queue its notifications, atomically."""
        f = finding
        alert = AlertRecord(
            f"alert-{secrets.token_hex(8)}", f.rule, f.subject, f.level, f.source, f.message,
            f.details, AlertState.FIRING, at, None, None, None,
        )  # fmt: skip
        values = (alert.id, f.rule, f.subject, f.level, f.source, f.message,
                  json.dumps(f.details), alert.state, at, None, None, None)  # fmt: skip
        insert = f"INSERT INTO alerts ({_COLUMNS}) VALUES ({', '.join('?' * len(values))})"
        await self._store.transaction(
            [(insert, values), *_outbox(alert.id, "firing", channels, at)]
        )
        return alert

    async def resolve(self, alert: AlertRecord, channels: list[str], at: float) -> AlertRecord:
        """Close an open alert and queue its notifications, atomically."""
        await self._store.transaction(
            [
                (
                    "UPDATE alerts SET state = 'resolved', resolved_at = ? WHERE id = ?",
                    (at, alert.id),
                ),
                *_outbox(alert.id, "resolved", channels, at),
            ]
        )
        return msgspec.structs.replace(alert, state=AlertState.RESOLVED, resolved_at=at)

    async def acknowledge(self, alert_id: str, by: str) -> AlertRecord | None:
        """Mark an alert seen by `by` (the first acknowledgement stands)."""
        await self._store.execute(
            "UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ?"
            " WHERE id = ? AND acknowledged_at IS NULL",
            (time.time(), by, alert_id),
        )
        return await self.get(alert_id)

    async def query(self, query: AlertQuery) -> tuple[list[AlertRecord], int]:
        """One page of alerts, newest first, and how many match in all."""
        where, params = ["1 = 1"], []  # type: tuple[list[str], list[Any]]
        if query.level is not None:
            where.append("level = ?")
            params.append(str(query.level))
        if query.state is not None:
            where.append("state = ?")
            params.append(str(query.state))
        if query.since is not None:
            where.append("(fired_at >= ? OR resolved_at >= ?)")
            params += [query.since, query.since]
        clause = " AND ".join(where)
        total = await self._store.fetch_one(f"SELECT count(*) FROM alerts WHERE {clause}", params)
        rows = await self._store.fetch_all(
            f"SELECT {_COLUMNS} FROM alerts WHERE {clause}"
            " ORDER BY fired_at DESC, id LIMIT ? OFFSET ?",
            [*params, query.limit, query.offset],
        )
        return [_record(row) for row in rows], int(total[0]) if total else 0

    async def count_firing(self) -> dict[str, int]:
        """Open alerts per level."""
        rows = await self._store.fetch_all(
            "SELECT level, count(*) FROM alerts WHERE state = 'firing' GROUP BY level"
        )
        return {row[0]: int(row[1]) for row in rows}

    async def pending(self, channel: str, limit: int = 20) -> list[Delivery]:
        """A channel's undelivered notifications, oldest first."""
        rows = await self._store.fetch_all(
            "SELECT id, alert_id, change, channel, attempts FROM alert_outbox"
            " WHERE channel = ? ORDER BY id LIMIT ?",
            (channel, limit),
        )
        return [
            Delivery(r["id"], r["alert_id"], r["change"], r["channel"], r["attempts"]) for r in rows
        ]

    async def pending_channels(self) -> list[str]:
        """The channels with something to deliver."""
        rows = await self._store.fetch_all("SELECT DISTINCT channel FROM alert_outbox")
        return [row[0] for row in rows]

    async def delivered(self, delivery_id: int) -> None:
        """Take a delivered notification out of the outbox."""
        await self._store.execute("DELETE FROM alert_outbox WHERE id = ?", (delivery_id,))

    async def failed(self, delivery_id: int, error: str) -> None:
        """Count a failed attempt."""
        await self._store.execute(
            "UPDATE alert_outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
            (error[:500], delivery_id),
        )

    async def drop_channel(self, channel: str) -> None:
        """Forget what waits for a channel that no longer exists."""
        await self._store.execute("DELETE FROM alert_outbox WHERE channel = ?", (channel,))

    async def load_settings(self) -> bytes | None:
        """The stored settings document, if any."""
        row = await self._store.fetch_one("SELECT body FROM alert_settings WHERE id = 1")
        return str(row[0]).encode() if row else None

    async def save_settings(self, body: bytes) -> None:
        """Replace the settings document (one row: atomic)."""
        await self._store.execute(
            "INSERT INTO alert_settings (id, body) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            (body.decode(),),
        )
