"""Homei's own part of a backup: its database, copied consistently through SQLite's backup
API, and its settings; restored into the running daemon through the same API."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

from homei.backup.manifest import BackupError
from homei.core.account_records import KEPT_ON_RESTORE, MERGE_ON_RESTORE
from homei.core.atomic import write_file_atomic
from homei.core.store import Migration, Store
from homei.settings_layers import default_config_path
from homei.settings_sections import Mode

DATABASE = "homei.db"
SETTINGS_JSON = "settings.json"  # the effective settings, for people and support
SETTINGS_FILE = "homei.toml"  # the settings file, restored for the next start
DEVICE_KEY = "device.key"  # in password-protected backups only (homei.config.key_backup)
TOPS = frozenset({DATABASE, SETTINGS_JSON, SETTINGS_FILE, DEVICE_KEY})
# What describes this device's life rather than its identity stays as it is on a restore,
# and so does every credential revoked since the backup (see `KEPT_ON_RESTORE`).
KEPT_TABLES = ("tasks", "task_logs", "update_history", "service_samples", *KEPT_ON_RESTORE)

MIGRATIONS = (
    Migration(
        "backups",
        1,
        """
        CREATE TABLE backup_restores (
            id TEXT PRIMARY KEY,
            backup TEXT NOT NULL,
            completed TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
        );
        """,
    ),
)


class KeyBackup(Protocol):
    """The device key's way through backups and restores."""

    def files(self, *, encrypted: bool) -> dict[str, bytes]: ...
    async def prepare(self, staged: Path, copy: Store) -> None: ...
    async def stage(self, staged: Path) -> bytes | None: ...
    async def commit(self, data: bytes | None) -> None: ...


class HomeiPart:
    """Snapshots and restores the daemon's database and settings."""

    def __init__(
        self,
        store: Store,
        migrations: Sequence[Migration],
        effective_settings: bytes,
        settings_file: Path | None,
        reload: Sequence[Callable[[], Awaitable[object]]] = (),
        key_backup: KeyBackup | None = None,
    ) -> None:
        self._reload = reload
        self._key_backup = key_backup
        self._store = store
        self._migrations = migrations
        self._effective = effective_settings
        self._settings_file = settings_file

    async def snapshot(self, work: Path, *, encrypted: bool = False) -> dict[str, Path | bytes]:
        """The part's files: a consistent copy of the database in `work`, the settings, and
        (`encrypted` only) the device key."""
        database = work / DATABASE
        await self._store.copy_to(database)
        files: dict[str, Path | bytes] = {DATABASE: database, SETTINGS_JSON: self._effective}
        if self._key_backup is not None:
            files.update(self._key_backup.files(encrypted=encrypted))
        settings = await asyncio.to_thread(_read, self._settings_file)
        if settings is not None:
            files[SETTINGS_FILE] = settings
        return files

    async def prepare(self, staged: Path, restore_id: str, backup: str) -> None:
        """Bring a restored database to this Homei's schema and check it, without touching
        the live one; refuses one written by a newer Homei."""
        database = staged / DATABASE
        if not await asyncio.to_thread(database.is_file):
            raise BackupError("The backup's Homei part holds no database")
        known = {(m.component, m.version) for m in self._migrations}
        try:
            copy = await Store.open(database, self._migrations)
        except Exception as err:
            raise BackupError(f"The backup's database cannot be opened: {err}") from None
        try:
            rows = await copy.fetch_all("SELECT component, version FROM schema_migrations")
            newer = sorted(f"{r[0]} {r[1]}" for r in rows if (r[0], r[1]) not in known)
            if newer:
                raise BackupError(
                    "The backup's database comes from a newer Homei", {"unknown": newer}
                )
            problems = [line for line in await copy.integrity_check() if line != "ok"]
            if problems:
                raise BackupError("The backup's database is damaged", {"problems": problems})
            if self._key_backup is not None:
                await self._key_backup.prepare(staged, copy)
            await copy.execute(
                "INSERT INTO backup_restores (id, backup) VALUES (?, ?)", (restore_id, backup)
            )
        finally:
            await copy.close()

    async def swap_in(self, staged: Path) -> bool:
        """Replace the live database (keeping `KEPT_TABLES`) and the settings file; True
        when the settings changed, which take effect at the next start."""
        key = await self._key_backup.stage(staged) if self._key_backup else None
        await self._store.replace_with(staged / DATABASE, keep=KEPT_TABLES, merge=MERGE_ON_RESTORE)
        if self._key_backup is not None:
            await self._key_backup.commit(key)
        for reload in self._reload:  # components that hold the database's rows in memory
            await reload()
        settings = await asyncio.to_thread(_read, staged / SETTINGS_FILE)
        if settings is None or self._settings_file is None:
            return False
        if settings == await asyncio.to_thread(_read, self._settings_file):
            return False
        await asyncio.to_thread(write_file_atomic, self._settings_file, settings, 0o600)
        return True

    async def was_restored(self, restore_id: str) -> bool:
        """Whether the live database is the one a given restore swapped in."""
        row = await self._store.fetch_one(
            "SELECT 1 FROM backup_restores WHERE id = ?", (restore_id,)
        )
        return row is not None


def _read(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None


def settings_file_from_environment(mode: Mode) -> Path:
    """The settings file the daemon reads (`HOMEI_CONFIG`, else the mode's default);
    blocking (it looks for the checkout)."""
    explicit = os.environ.get("HOMEI_CONFIG")
    return Path(explicit) if explicit else default_config_path(mode)
