"""The device's database: one SQLite file in WAL mode, migrated per component.

Each component (auth, tasks, and every domain added later) owns an ordered list
of migrations. `Store.open` applies the ones a database has not seen yet, each
in its own transaction, and records them in `schema_migrations`, so a crash in
the middle of an upgrade leaves the database at the last whole step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec

from homei.core.health import DependencyReport, HealthState

_LOGGER = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


class Migration(msgspec.Struct, frozen=True):
    """One step of one component's schema; `sql` may hold several statements."""

    component: str
    version: int
    sql: str


class Store:
    """An open database connection shared by the domain managers."""

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._write_lock = asyncio.Lock()
        self._is_closed = False

    @classmethod
    async def open(cls, path: Path, migrations: Iterable[Migration] = ()) -> Store:
        """Open (creating if needed) the database at `path` and migrate it."""
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path, isolation_level=None)
        connection.row_factory = aiosqlite.Row
        # FULL, not NORMAL: a device loses power without warning, and a commit
        # the API acknowledged must survive that.
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
        ):
            await connection.execute(pragma)
        store = cls(connection, path)
        try:
            await store._migrate(list(migrations))
        except BaseException:
            await connection.close()
            raise
        await asyncio.to_thread(os.chmod, path, 0o600)
        return store

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        await self._db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " component TEXT NOT NULL, version INTEGER NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
            " PRIMARY KEY (component, version))"
        )
        async with self._db.execute("SELECT component, version FROM schema_migrations") as cursor:
            applied = {(row[0], row[1]) for row in await cursor.fetchall()}
        for migration in sorted(migrations, key=lambda m: (m.component, m.version)):
            if (migration.component, migration.version) in applied:
                continue
            _LOGGER.info("Migrating %s to schema %d", migration.component, migration.version)
            script = (
                "BEGIN IMMEDIATE;\n"
                f"{migration.sql.strip().rstrip(';')};\n"
                "INSERT INTO schema_migrations (component, version) VALUES "
                f"('{migration.component}', {int(migration.version)});\n"
                "COMMIT;"
            )
            try:
                await self._db.executescript(script)
            except BaseException:
                if self._db.in_transaction:
                    await self._db.rollback()
                raise

    async def close(self) -> None:
        """Checkpoint the WAL and close the connection; safe to call twice."""
        if self._is_closed:
            return
        self._is_closed = True
        try:
            async with self._write_lock:  # after any transaction in flight
                await self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as err:
            # The WAL stays beside the database and is applied at the next open.
            _LOGGER.warning("No WAL checkpoint on close: %s", err)
        finally:
            await self._db.close()

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        """The first row of a query, or None."""
        async with self._db.execute(sql, params) as cursor:
            row: aiosqlite.Row | None = await cursor.fetchone()
            return row

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        """Every row of a query."""
        async with self._db.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one writing statement in its own transaction; the affected row count."""
        async with self._write_lock:
            cursor = await self._db.execute(sql, params)
            count: int = cursor.rowcount
            await cursor.close()
            return count

    async def transaction(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run several writing statements atomically: all of them or none."""
        async with self._write_lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                for sql, params in statements:
                    await self._db.execute(sql, params)
                await self._db.commit()
            except BaseException:
                # Cancelled or failed at any step, BEGIN included (it runs on aiosqlite's
                # thread even when its awaiter is cancelled): never leave a transaction open.
                await asyncio.shield(self._rollback())
                raise

    async def _rollback(self) -> None:
        with contextlib.suppress(Exception):
            await self._db.rollback()

    async def ping(self, timeout: float = 2.0) -> None:
        """Prove the database answers; raises on a wedged or closed connection."""
        async with asyncio.timeout(timeout):
            await self.fetch_one("SELECT 1")

    async def report(self) -> DependencyReport:
        """The database as a dependency in `/health`: does it answer, and how big is it."""
        await self.ping()
        size = await asyncio.to_thread(_size_of, self.path)
        return DependencyReport(
            "database",
            HealthState.HEALTHY,
            "SQLite answers",
            details={"path": str(self.path), "size": size, "journal": "wal"},
        )

    async def copy_to(self, path: Path) -> None:
        """A consistent copy of the live database in a new file, through SQLite's backup
        API (never a file copy of a database being written)."""
        target = await aiosqlite.connect(path)
        try:
            async with self._write_lock:
                await self._db.backup(target)
        finally:
            await target.close()

    async def replace_with(
        self, path: Path, keep: Sequence[str] = (), merge: Sequence[str] = ()
    ) -> None:
        """Make the live database hold what the database file `path` holds, except the
        tables `keep`, whose live rows stay; then the statements `merge` run on `path`'s
        rows (`main`) with the live ones at hand (`live`), in the same transaction. SQLite's
        backup API into the open connection, so the daemon keeps running and a failure
        leaves the live database as it was. `path` must have this database's schema (open
        it with `Store.open` first)."""
        source = await aiosqlite.connect(path, isolation_level=None)
        try:
            async with self._write_lock:
                await source.execute("ATTACH DATABASE ? AS live", (str(self.path),))
                await source.execute("BEGIN IMMEDIATE")
                async with source.execute(
                    "SELECT name FROM live.sqlite_master WHERE type = 'table'"
                ) as cursor:
                    present = {row[0] for row in await cursor.fetchall()}
                for table in (t for t in keep if t in present):
                    await source.execute(f'DELETE FROM main."{table}"')
                    await source.execute(f'INSERT INTO main."{table}" SELECT * FROM live."{table}"')
                for statement in merge:
                    await source.execute(statement)
                await source.execute("COMMIT")
                await source.execute("DETACH DATABASE live")
                await source.backup(self._db)
        finally:
            await source.close()

    async def integrity_check(self) -> list[str]:
        """SQLite's own integrity check; `['ok']` for a healthy file."""
        rows = await self.fetch_all("PRAGMA integrity_check")
        return [str(row[0]) for row in rows]


def _size_of(path: Path) -> int:
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(FileNotFoundError):
            total += os.stat(f"{path}{suffix}").st_size
    return total
