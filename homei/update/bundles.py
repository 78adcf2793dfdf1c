"""Bundles on the data partition: streamed in under limits, and only ever read from the
updates directory."""

from __future__ import annotations

import asyncio
import builtins
import os
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec

from homei.core import uploads
from homei.core.clock import from_epoch
from homei.core.errors import NotFound, ValidationError

BUNDLE_SUFFIX = ".raucb"
MAX_NAME = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class StoredBundle(msgspec.Struct, frozen=True):
    name: str
    path: Path
    size: int
    modified: str
    sha256: str | None = None


def safe_name(name: str | None) -> str:
    """A bundle file name with nothing but letters, digits, `.`, `_` and `-`."""
    stem = _UNSAFE.sub("-", Path(name or "").name).strip(".-")[:MAX_NAME]
    if not stem:
        stem = f"upload-{secrets.token_hex(4)}"
    return stem if stem.endswith(BUNDLE_SUFFIX) else f"{stem}{BUNDLE_SUFFIX}"


class BundleStore:
    """The updates directory: where uploads land and installs read from."""

    def __init__(self, directory: Path, max_size: int) -> None:
        self.directory = directory
        self.max_size = max_size

    async def prepare(self) -> None:
        """Create the directory and clear uploads a crash left half-written."""
        await asyncio.to_thread(self._prepare)

    def _prepare(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for leftover in self.directory.glob(".upload-*"):
            leftover.unlink(missing_ok=True)

    async def resolve(self, given: str) -> Path:
        """The bundle `given` names, checked off the event loop (see `_resolve`)."""
        try:
            return await asyncio.to_thread(self._resolve, given)
        except (OSError, ValueError) as err:  # NUL bytes, names too long, unreadable folders
            raise ValidationError(
                f"Not a usable bundle path: {err}", {"field": "bundle_path"}
            ) from None

    def _resolve(self, given: str) -> Path:
        """The bundle `given` names (a path or a bare name), which must resolve inside the
        updates directory with no link or `..` on the way; 400 otherwise."""
        root = self.directory.resolve()
        candidate = Path(given)
        if not candidate.is_absolute():
            candidate = self.directory / candidate
        normalized = Path(os.path.normpath(candidate))
        resolved = candidate.resolve()
        inside = resolved.is_relative_to(root) and resolved != root
        if not inside or normalized != resolved or ".." in candidate.parts:
            raise ValidationError(
                "The bundle must be a file inside the updates directory (no links, no '..')",
                {"field": "bundle_path"},
            )
        if not resolved.is_file():
            raise NotFound(f"No bundle '{given}' in the updates directory", {"bundle_path": given})
        return resolved

    async def receive(
        self, chunks: AsyncIterator[bytes], name: str | None, declared_size: int | None
    ) -> StoredBundle:
        """Stream an upload to disk (`core.uploads.receive`: limit, free space, SHA-256,
        fsync), then rename it into place."""
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True, mode=0o700)
        final = self.directory / safe_name(name)
        received = await uploads.receive(
            chunks,
            self.directory / f".upload-{secrets.token_hex(6)}.part",
            limit=self.max_size,
            declared_size=declared_size,
            what="the bundle",
        )
        await uploads.move_into_place(received.path, final, replace=True)
        modified = (await asyncio.to_thread(final.stat)).st_mtime
        return StoredBundle(final.name, final, received.size, from_epoch(modified), received.sha256)

    async def list(self) -> builtins.list[StoredBundle]:
        """The bundles present, newest first."""
        return await asyncio.to_thread(self._list)

    def _list(self) -> builtins.list[StoredBundle]:
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.glob(f"*{BUNDLE_SUFFIX}"):
            if path.is_file() and not path.is_symlink():
                stat = path.stat()
                found.append(StoredBundle(path.name, path, stat.st_size, from_epoch(stat.st_mtime)))
        return sorted(found, key=lambda b: b.modified, reverse=True)

    async def delete(self, name: str) -> None:
        """Remove one bundle by name."""
        path = await self.resolve(name)
        await asyncio.to_thread(path.unlink)
