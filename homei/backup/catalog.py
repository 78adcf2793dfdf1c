"""The backups folder: named backup files, listed from their manifests; temporary files
that a crash leaves are swept, and nothing half-written is ever listed."""

from __future__ import annotations

import asyncio
import builtins
import re
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec

from homei.backup.manifest import BackupError, BackupManifest
from homei.core import uploads
from homei.core.atomic import fsync_dir
from homei.core.clock import from_epoch
from homei.core.errors import Conflict, NotFound
from homei.core.lazy import load

SUFFIX = ".tar"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,150}\.tar$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
TEMPORARY = (".partial-", ".upload-", ".work-", ".restore-")


class BackupNotFound(NotFound):
    code = "BACKUP_NOT_FOUND"


class StoredBackup(msgspec.Struct, frozen=True):
    name: str
    path: Path
    size: int
    modified: str
    manifest: BackupManifest | None  # None: unreadable, listed so it can be deleted
    problem: str | None = None


def sanitise(name: str | None, default: str = "backup") -> str:
    """A user-given backup name reduced to letters, digits, `_` and `-` (at most 60). Without
    one, `default` and a random part: two unnamed backups made in the same second (whose
    names end in the same time stamp) must not collide."""
    cleaned = _UNSAFE.sub("-", name or "").strip("-_")[:60].strip("-_")
    return cleaned or f"{default}-{secrets.token_hex(3)}"


class BackupCatalog:
    """Where backups live, by name; every name is checked to stay inside the folder."""

    def __init__(self, directory: Path, max_size: int) -> None:
        self.directory = directory
        self.max_size = max_size
        self._cache: dict[str, tuple[tuple[int, float], StoredBackup]] = {}

    async def prepare(self) -> builtins.list[str]:
        """Create the folder; remove what a crash left half-written. The names swept."""
        return await asyncio.to_thread(self._sweep)

    def _sweep(self) -> builtins.list[str]:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        swept = []
        for entry in self.directory.iterdir():
            if entry.name.startswith(TEMPORARY):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                swept.append(entry.name)
        if swept:
            fsync_dir(self.directory)
        return swept

    def path_of(self, name: str) -> Path:
        """The file of backup `name`; 404 for a name no backup can have."""
        if not NAME.match(name) or name.startswith(TEMPORARY):
            raise BackupNotFound(f"Backup '{name[:80]}' not found", {"backup_name": name[:80]})
        return self.directory / name

    async def get(self, name: str) -> StoredBackup:
        """One backup; 404 `BACKUP_NOT_FOUND` when there is none of that name."""
        path = self.path_of(name)
        found = await asyncio.to_thread(self._describe, path)
        if found is None:
            raise BackupNotFound(f"Backup '{name}' not found", {"backup_name": name})
        return found

    async def list(self) -> builtins.list[StoredBackup]:
        """Every backup, newest first."""
        return await asyncio.to_thread(self._list)

    def _list(self) -> builtins.list[StoredBackup]:
        if not self.directory.is_dir():
            return []
        found = [
            described
            for path in self.directory.glob(f"*{SUFFIX}")
            if NAME.match(path.name) and (described := self._describe(path)) is not None
        ]
        self._cache = {b.name: self._cache[b.name] for b in found if b.name in self._cache}
        return sorted(found, key=lambda b: (b.modified, b.name), reverse=True)

    def _describe(self, path: Path) -> StoredBackup | None:
        try:
            stat = path.lstat()
        except FileNotFoundError:
            return None
        if not path.is_file() or path.is_symlink():
            return None
        key = (stat.st_size, stat.st_mtime)
        cached = self._cache.get(path.name)
        if cached is not None and cached[0] == key:
            return cached[1]
        archive = load("homei.backup.archive")  # the archive stack costs megabytes
        try:
            with archive.BackupReader(path) as reader:
                manifest, problem = reader.manifest, None
        except BackupError as err:
            manifest, problem = None, err.message
        described = StoredBackup(
            path.name, path, stat.st_size, from_epoch(stat.st_mtime), manifest, problem
        )
        self._cache[path.name] = (key, described)
        return described

    async def delete(self, name: str) -> None:
        path = (await self.get(name)).path
        await asyncio.to_thread(_unlink_durably, path)

    def temporary(self, kind: str) -> Path:
        """A fresh name for a file or folder that is swept if Homei dies while using it."""
        return self.directory / f"{kind}{secrets.token_hex(6)}"

    async def check_space(self, needed: int) -> None:
        """507 unless the folder's filesystem has `needed` bytes (plus the margin) free."""
        await uploads.ensure_free_space(self.directory, needed, "the backup")

    async def publish(self, temporary: Path, name: str) -> StoredBackup:
        """Make a complete, fsynced file visible under `name` (never replacing one)."""
        final = self.path_of(name)
        try:
            await uploads.move_into_place(temporary, final, replace=False)
        except FileExistsError:
            raise Conflict(f"A backup named '{name}' exists", {"backup_name": name}) from None
        return await self.get(name)

    async def receive(
        self, chunks: AsyncIterator[bytes], declared_size: int | None
    ) -> tuple[Path, str]:
        """Stream an upload to a temporary file (`core.uploads.receive`: limit, free space,
        SHA-256, fsync); its path and SHA-256. The caller validates and publishes it, or
        deletes it."""
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True, mode=0o700)
        received = await uploads.receive(
            chunks,
            self.temporary(".upload-"),
            limit=self.max_size,
            declared_size=declared_size,
            what="the backup",
        )
        return received.path, received.sha256


def _unlink_durably(path: Path) -> None:
    path.unlink()
    fsync_dir(path.parent)
