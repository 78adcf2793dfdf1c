"""Uploads: a client's stream, bounded by a size limit, checked against free space, hashed,
fsynced and only then moved into place. Bundles and backups land on disk this way; images,
which stream into the engine, share the size limit (`bounded`)."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec

from homei.core.atomic import fsync_dir
from homei.core.errors import InsufficientStorage, PayloadTooLarge, ValidationError
from homei.core.partial_file import PartialFile

# Room kept free beyond what an upload or a backup needs, for the database and the logs.
FREE_SPACE_MARGIN = 64 * 1024 * 1024


class Received(msgspec.Struct, frozen=True):
    """An upload complete and fsynced under its temporary name."""

    path: Path
    size: int
    sha256: str


def check_declared(declared_size: int | None, limit: int, what: str) -> None:
    """413 at once when the client announces more than `limit` bytes."""
    if declared_size is not None and declared_size > limit:
        raise PayloadTooLarge(f"{what} exceeds the limit of {limit} bytes", {"limit": limit})


async def ensure_free_space(directory: Path, needed: int, what: str) -> None:
    """507 unless `directory`'s filesystem has `needed` bytes plus the margin free."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True, mode=0o700)
    free = (await asyncio.to_thread(shutil.disk_usage, directory)).free
    wanted = needed + FREE_SPACE_MARGIN
    if wanted > free:
        raise InsufficientStorage(
            f"Not enough free space for {what} ({free} bytes free, {wanted} needed)",
            {"free": free, "needed": wanted},
        )


class Bounded:
    """The chunks of a stream, refused with 413 once they pass `limit` bytes."""

    def __init__(self, chunks: AsyncIterator[bytes], limit: int, what: str) -> None:
        self._chunks = chunks
        self._limit = limit
        self._what = what
        self.received = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self.received += len(chunk)
            if self.received > self._limit:
                check_declared(self.received, self._limit, self._what)
            yield chunk


async def receive(
    chunks: AsyncIterator[bytes],
    partial: Path,
    *,
    limit: int,
    declared_size: int | None,
    what: str,
) -> Received:
    """Stream an upload into `partial` (which must not exist): limit and free space checked
    first, SHA-256 computed on the way, fsynced when complete, removed when not."""
    check_declared(declared_size, limit, what)
    await ensure_free_space(partial.parent, declared_size or 0, what)
    stream = Bounded(chunks, limit, what)
    sink = await PartialFile.create(partial)
    try:
        async for chunk in stream:
            await sink.write(chunk)
        if stream.received == 0:
            raise ValidationError("The upload is empty", {"field": "body"})
        if declared_size is not None and stream.received != declared_size:
            raise ValidationError(
                "The upload ended before its declared length",
                {"received": stream.received, "declared": declared_size},
            )
        await sink.finish()
    except BaseException as err:
        await sink.discard()
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            raise InsufficientStorage(
                f"The disk filled up during the upload of {what}", {"received": stream.received}
            ) from None
        raise
    return Received(partial, stream.received, sink.sha256)


async def move_into_place(temporary: Path, final: Path, *, replace: bool) -> None:
    """Give a complete, fsynced file its final name, durably. Without `replace`, an
    existing file of that name is kept and `FileExistsError` raised."""
    await asyncio.to_thread(_move, temporary, final, replace)


def _move(temporary: Path, final: Path, replace: bool) -> None:
    if replace:
        os.replace(temporary, final)
    else:
        # link + unlink, not rename: rename would replace a file of that name.
        os.link(temporary, final)
        temporary.unlink()
    fsync_dir(final.parent)
