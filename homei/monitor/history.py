"""The device's figures over time, in tiers: every sample for an hour, 1-minute rollups for a
month, 5-minute rollups for three months, 1-hour rollups for a year (each retention a
setting). The 5-minute tier is there for the dashboard's week at 5-minute resolution: read
from the minute tier, that query aggregates five times the rows and took over 100 ms.

Rows are narrow and integer: a metric id, a whole-second timestamp and the value in
hundredths, in tables WITHOUT ROWID, so a figure costs a few bytes instead of a REAL's eight
plus a rowid. Samples wait in memory and are written every few seconds in one transaction,
together with the rollups of the minutes and hours that closed and the pruning, so a kill -9
loses at most the unwritten seconds and never leaves a rollup without its samples.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from homei.core.store import Migration, Store

_LOGGER = logging.getLogger(__name__)

SCALE = 100  # values are kept as integer hundredths
MINUTE, FIVE_MINUTES, HOUR = 60, 300, 3600
# Each rollup tier and the tier it is made from (None: the raw samples).
TIERS = ((MINUTE, None), (FIVE_MINUTES, MINUTE), (HOUR, FIVE_MINUTES))
# Samples that may still be on their way from the reader when a minute closes.
SETTLE = 5
_MAX_ROWS_PER_INSERT = 300  # 3 parameters a row, well under SQLite's 32766

MIGRATIONS = (
    Migration(
        "monitor",
        1,
        """
        CREATE TABLE monitor_metrics (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE monitor_raw (
            ts INTEGER NOT NULL,
            metric INTEGER NOT NULL,
            value INTEGER NOT NULL,
            PRIMARY KEY (ts, metric)
        ) WITHOUT ROWID;
        CREATE TABLE monitor_rollups (
            step INTEGER NOT NULL,
            metric INTEGER NOT NULL,
            ts INTEGER NOT NULL,
            low INTEGER NOT NULL,
            high INTEGER NOT NULL,
            mean INTEGER NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (step, metric, ts)
        ) WITHOUT ROWID;
        CREATE TABLE monitor_rolled (step INTEGER PRIMARY KEY, until INTEGER NOT NULL)
        """,
    ),
)

_ROLL_RAW = (
    "INSERT OR REPLACE INTO monitor_rollups (step, metric, ts, low, high, mean, n)"
    " SELECT 60, metric, ts / 60 * 60, MIN(value), MAX(value),"
    " CAST(ROUND(AVG(value)) AS INTEGER), COUNT(*)"
    " FROM monitor_raw WHERE ts >= ? AND ts < ? GROUP BY metric, ts / 60"
)
_ROLL_TIER = (
    "INSERT OR REPLACE INTO monitor_rollups (step, metric, ts, low, high, mean, n)"
    " SELECT ?1, metric, ts / ?1 * ?1, MIN(low), MAX(high),"
    " CAST(ROUND(SUM(mean * n) * 1.0 / SUM(n)) AS INTEGER), SUM(n)"
    " FROM monitor_rollups WHERE step = ?2 AND metric IN (SELECT id FROM monitor_metrics)"
    " AND ts >= ?3 AND ts < ?4 GROUP BY metric, ts / ?1"
)


class Retention(msgspec.Struct, frozen=True):
    """How long each tier keeps its rows, in seconds."""

    raw: float = 3600.0
    minute: float = 30 * 86400.0
    five_minutes: float = 90 * 86400.0
    hour: float = 365 * 86400.0

    def of(self, step: int) -> float:
        """The retention of the tier of `step` seconds."""
        return {MINUTE: self.minute, FIVE_MINUTES: self.five_minutes, HOUR: self.hour}[step]


class Point(msgspec.Struct, frozen=True, array_like=True):
    """One bucket of one metric: its start, lowest, highest and mean value."""

    ts: int
    low: float
    high: float
    mean: float


class Series(msgspec.Struct, frozen=True):
    """The answer to a history query: the tier's step it came from and points per metric."""

    tier: int
    resolution: int
    points: dict[str, list[Point]]


def tier_for(resolution: int) -> int:
    """The coarsest tier (1, 60, 300 or 3600 s) that still has the resolution asked."""
    return max(step for step in (1, MINUTE, FIVE_MINUTES, HOUR) if step <= max(resolution, 1))


class History:
    """Samples in, tiers kept, ranges answered."""

    def __init__(
        self, store: Store, retention: Retention, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._retention = retention
        self._clock = clock
        self._ids: dict[str, int] = {}
        self._pending: dict[tuple[int, str], int] = {}
        self._rolled: dict[int, int] = {}

    def add(self, ts: float, figures: dict[str, float]) -> None:
        """Keep one sample until the next flush."""
        second = int(ts)
        for name, value in figures.items():
            if math.isfinite(value):
                self._pending[(second, name)] = round(value * SCALE)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self, now: float | None = None) -> None:
        """Write the waiting samples, the rollups of closed minutes and hours, and prune."""
        now = self._clock() if now is None else now
        pending, self._pending = self._pending, {}
        try:
            await self._ensure_ids({name for _, name in pending})
            await self._load_rolled(pending)
            statements = self._inserts(pending)
            statements += self._rollups(int(now))
        except BaseException:
            self._pending = {**pending, **self._pending}
            raise
        if statements:
            await self._store.transaction(statements)

    async def _ensure_ids(self, names: set[str]) -> None:
        missing = sorted(names - self._ids.keys())
        if not missing:
            return
        await self._store.transaction(
            [("INSERT OR IGNORE INTO monitor_metrics (name) VALUES (?)", (n,)) for n in missing]
        )
        rows = await self._store.fetch_all("SELECT id, name FROM monitor_metrics")
        self._ids.update({row["name"]: row["id"] for row in rows})

    async def _load_rolled(self, pending: dict[tuple[int, str], int]) -> None:
        if self._rolled:
            return
        rows = await self._store.fetch_all("SELECT step, until FROM monitor_rolled")
        self._rolled = {row["step"]: row["until"] for row in rows}
        if MINUTE not in self._rolled:
            first = await self._store.fetch_one("SELECT MIN(ts) AS ts FROM monitor_raw")
            start = first["ts"] if first and first["ts"] is not None else None
            if start is None:
                start = min((ts for ts, _ in pending), default=int(self._clock()))
            self._rolled[MINUTE] = start // MINUTE * MINUTE
        for step, _ in TIERS:
            self._rolled.setdefault(step, self._rolled[MINUTE] // step * step)

    def _inserts(self, pending: dict[tuple[int, str], int]) -> list[tuple[str, Sequence[Any]]]:
        rows = [(ts, self._ids[name], value) for (ts, name), value in pending.items()]
        statements: list[tuple[str, Sequence[Any]]] = []
        for start in range(0, len(rows), _MAX_ROWS_PER_INSERT):
            chunk = rows[start : start + _MAX_ROWS_PER_INSERT]
            statements.append(
                (
                    "INSERT OR REPLACE INTO monitor_raw (ts, metric, value) VALUES "
                    + ",".join(["(?, ?, ?)"] * len(chunk)),
                    [v for row in chunk for v in row],
                )
            )
        return statements

    def _rollups(self, now: int) -> list[tuple[str, Sequence[Any]]]:
        statements: list[tuple[str, Sequence[Any]]] = []
        minute_end = (now - SETTLE) // MINUTE * MINUTE
        if minute_end <= self._rolled[MINUTE]:
            return statements
        statements.append((_ROLL_RAW, (self._rolled[MINUTE], minute_end)))
        self._rolled[MINUTE] = minute_end
        for step, source in TIERS[1:]:
            assert source is not None
            end = self._rolled[source] // step * step
            if end > self._rolled[step]:
                statements.append((_ROLL_TIER, (step, source, self._rolled[step], end)))
                self._rolled[step] = end
        statements.extend(
            ("INSERT OR REPLACE INTO monitor_rolled (step, until) VALUES (?, ?)", (step, until))
            for step, until in self._rolled.items()
        )
        # Pruned once a minute, with the rollup that made the old rows redundant.
        statements.append(("DELETE FROM monitor_raw WHERE ts < ?", (now - self._retention.raw,)))
        for step, _ in TIERS:
            statements.append(
                (
                    "DELETE FROM monitor_rollups WHERE step = ?"
                    " AND metric IN (SELECT id FROM monitor_metrics) AND ts < ?",
                    (step, now - self._retention.of(step)),
                )
            )
        return statements

    async def names(self) -> list[str]:
        """Every metric the history has seen."""
        rows = await self._store.fetch_all("SELECT name FROM monitor_metrics ORDER BY name")
        return [row["name"] for row in rows]

    async def query(
        self, start: float, end: float, resolution: int, names: Iterable[str]
    ) -> Series:
        """Points of `names` in [start, end), one per `resolution` seconds, from the coarsest
        tier that has that resolution."""
        resolution = max(int(resolution), 1)
        tier = tier_for(resolution)
        wanted = list(dict.fromkeys(names))
        if not self._ids.keys() >= set(wanted):
            rows = await self._store.fetch_all("SELECT id, name FROM monitor_metrics")
            self._ids.update({row["name"]: row["id"] for row in rows})
        by_id = {self._ids[name]: name for name in wanted if name in self._ids}
        points: dict[str, list[Point]] = {name: [] for name in wanted}
        if not by_id:
            return Series(tier, resolution, points)
        # The numbered parameters come first in the text: the IN list's `?` take the
        # numbers after them.
        marks = ",".join("?" * len(by_id))
        params: list[Any] = [resolution, int(start), math.ceil(end), tier, *by_id]
        if tier == resolution:
            # One rollup (or sample) per point: read in the primary key's order, no grouping.
            columns, group = "ts, low, high, mean" if tier > 1 else "ts, value, value, value", ""
        elif tier > 1:
            columns = "ts / ?1 * ?1 AS bucket, MIN(low), MAX(high), SUM(mean * n) * 1.0 / SUM(n)"
            group = " GROUP BY metric, bucket"
        else:
            columns = "ts / ?1 * ?1 AS bucket, MIN(value), MAX(value), AVG(value)"
            group = " GROUP BY metric, bucket"
        table = "monitor_rollups WHERE step = ?4" if tier > 1 else "monitor_raw WHERE ?4 = 1"
        sql = (
            f"SELECT metric, {columns} FROM {table} AND metric IN ({marks})"
            f" AND ts >= ?2 AND ts < ?3{group} ORDER BY metric, 2"
        )
        for metric, bucket, low, high, mean in await self._store.fetch_all(sql, params):
            points[by_id[metric]].append(Point(bucket, low / SCALE, high / SCALE, mean / SCALE))
        return Series(tier, resolution, points)
