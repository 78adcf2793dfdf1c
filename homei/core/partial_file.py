"""A file received as a stream: written and hashed on threads of their own, fsynced when
complete, dropped when not. `homei.core.uploads` receives every upload through it."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PENDING_CHUNKS = 8
WRITEBACK_BYTES = 32 * 1024 * 1024


class PartialFile:
    """A streamed upload on its way to disk. Chunks are written and hashed in order on one worker
    thread while the event loop keeps receiving the next ones (at most `PENDING_CHUNKS` in
    flight), and writeback starts every `WRITEBACK_BYTES`, so the final fsync is short and
    the page cache never holds the whole bundle."""

    def __init__(self, path: Path, fd: int, executor: ThreadPoolExecutor) -> None:
        self._path = path
        self._fd = fd
        self._executor = executor
        self._hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="homei-sha256")
        self._pending: deque[asyncio.Future[None]] = deque()
        self._digest = hashlib.sha256()
        self._written = 0
        self._flushed = 0

    @classmethod
    async def create(cls, path: Path) -> PartialFile:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="homei-upload")
        loop = asyncio.get_running_loop()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        fd = await loop.run_in_executor(executor, os.open, path, flags, 0o600)
        return cls(path, fd, executor)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    async def write(self, chunk: bytes) -> None:
        loop = asyncio.get_running_loop()
        self._pending.append(loop.run_in_executor(self._executor, self._write, chunk))
        self._pending.append(loop.run_in_executor(self._hasher, self._digest.update, chunk))
        while len(self._pending) > 2 * PENDING_CHUNKS:
            await self._pending.popleft()

    def _write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._fd, view) :]
        self._written += len(chunk)
        if self._written - self._flushed >= WRITEBACK_BYTES:
            # Starts writeback of what is written so far without waiting for it.
            os.posix_fadvise(
                self._fd, self._flushed, self._written - self._flushed, os.POSIX_FADV_DONTNEED
            )
            self._flushed = self._written

    async def _drain(self) -> None:
        while self._pending:
            await self._pending.popleft()

    async def finish(self) -> None:
        """Wait for every chunk, then make the file durable."""
        await self._drain()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, os.fsync, self._fd)
        await self._close()

    async def discard(self) -> None:
        """Drop the partial file, whatever state the writes are in."""
        while self._pending:  # every write's outcome is taken, failed ones too (ENOSPC)
            with contextlib.suppress(Exception):
                await self._pending.popleft()
        await self._close()
        await asyncio.to_thread(self._path.unlink, missing_ok=True)

    async def _close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            await asyncio.get_running_loop().run_in_executor(self._executor, os.close, fd)
        self._executor.shutdown(wait=False)
        self._hasher.shutdown(wait=False)
