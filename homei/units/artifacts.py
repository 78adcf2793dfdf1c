"""Artefacts: the programs native services run, uploaded (devices have no internet) and kept
by name and version as `<root>/<name>/<version>/<name>`, executable, beside a small record
of their size and SHA-256.

An upload streams into a temporary file (size-limited, hashed, fsynced) and is moved into
place only when complete, so a kill -9 leaves either the old state or the new one.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgspec

from homei.core.atomic import write_file_atomic
from homei.core.clock import now_iso
from homei.core.errors import Conflict, NotFound, ValidationError
from homei.core.uploads import move_into_place, receive
from homei.services.spec import ARTIFACT_NAME, ARTIFACT_VERSION

_NAME = re.compile(ARTIFACT_NAME)
_VERSION = re.compile(ARTIFACT_VERSION)
_RECORD = "artifact.json"


class Artifact(msgspec.Struct, frozen=True):
    """One stored artefact."""

    name: str
    version: str
    size: int
    sha256: str
    uploaded_at: str
    path: str


class ArtifactNotFound(NotFound):
    code = "ARTIFACT_NOT_FOUND"


class ArtifactInUse(Conflict):
    code = "ARTIFACT_IN_USE"


class ArtifactExists(Conflict):
    code = "ARTIFACT_EXISTS"


def check_name(name: str, version: str) -> None:
    """400 unless `name` and `version` are an artefact's."""
    if not _NAME.fullmatch(name):
        raise ValidationError(
            f"'{name}' is not an artefact name",
            {"fields": [{"path": "name", "message": "a-z0-9_.-"}]},
        )
    if not _VERSION.fullmatch(version):
        raise ValidationError(
            f"'{version}' is not a version",
            {"fields": [{"path": "version", "message": "A-Za-z0-9_.+-"}]},
        )


class ArtifactStore:
    """The artefacts under one folder."""

    def __init__(self, root: Path, max_size: int) -> None:
        self.root = root
        self.max_size = max_size
        #: The services that run an artefact (set by the wiring: the declared specs).
        self.users_of: Callable[[str, str], list[str]] = lambda name, version: []

    async def prepare(self) -> None:
        """Make the folder's path absolute: units name their programs by absolute paths."""
        self.root = await asyncio.to_thread(self.root.resolve)

    def program(self, name: str, version: str) -> Path:
        """Where an artefact's program is (whether or not it is there)."""
        check_name(name, version)
        return self.root / name / version / name

    async def get(self, name: str, version: str) -> Artifact:
        """One artefact; 404 `ARTIFACT_NOT_FOUND` when there is none."""
        check_name(name, version)
        found = await asyncio.to_thread(self._read, self.root / name / version)
        if found is None:
            raise ArtifactNotFound(f"No artefact '{name}' version '{version}'")
        return found

    async def all(self) -> list[Artifact]:
        """Every artefact, by name and version."""
        return await asyncio.to_thread(self._list)

    async def add(
        self, name: str, version: str, chunks: AsyncIterator[bytes], declared_size: int | None
    ) -> Artifact:
        """Store an upload as `name` `version`; 409 when that version is there already."""
        check_name(name, version)
        folder = self.root / name / version
        if await asyncio.to_thread((folder / _RECORD).exists):
            raise ArtifactExists(f"Artefact '{name}' version '{version}' exists; delete it first")
        await asyncio.to_thread(self._folders, folder)
        partial = self.root / f".upload-{name}-{version}-{os.getpid()}"
        received = await receive(
            chunks, partial, limit=self.max_size, declared_size=declared_size, what="The artefact"
        )
        try:
            await asyncio.to_thread(os.chmod, received.path, 0o755)
            await move_into_place(received.path, folder / name, replace=True)
        finally:
            await asyncio.to_thread(partial.unlink, missing_ok=True)
        artifact = Artifact(
            name, version, received.size, received.sha256, now_iso(), str(folder / name)
        )
        await asyncio.to_thread(
            write_file_atomic, folder / _RECORD, msgspec.json.encode(artifact), 0o644
        )
        return artifact

    async def delete(self, name: str, version: str) -> None:
        """Remove an artefact; 409 `ARTIFACT_IN_USE` while a service runs it."""
        await self.get(name, version)
        users = self.users_of(name, version)
        if users:
            raise ArtifactInUse(
                f"Artefact '{name}' version '{version}' is used by {', '.join(users)}",
                {"services": users},
            )
        folder = self.root / name / version
        await asyncio.to_thread(_remove, folder, self.root / name)

    # --- on a thread ---
    def _folders(self, folder: Path) -> None:
        # Readable by every user: a unit's DynamicUser must reach and run the program.
        for path in (self.root, folder.parent, folder):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o755)

    def _read(self, folder: Path) -> Artifact | None:
        try:
            return msgspec.json.decode((folder / _RECORD).read_bytes(), type=Artifact)
        except (FileNotFoundError, NotADirectoryError, msgspec.DecodeError):
            return None

    def _list(self) -> list[Artifact]:
        if not self.root.is_dir():
            return []
        found = []
        for name in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for version in sorted(p for p in name.iterdir() if p.is_dir()):
                artifact = self._read(version)
                if artifact is not None:
                    found.append(artifact)
        return found


def _remove(folder: Path, parent: Path) -> None:
    # The record first: a half-removed artefact is no longer listed.
    (folder / _RECORD).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    if parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
