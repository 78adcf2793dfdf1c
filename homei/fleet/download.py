"""An artefact brought into the updates folder: resumed with HTTP Range after a lost
connection (or a restart), checked against the size and hashes the server announced, and
deleted when it does not match."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp

from homei.core.atomic import fsync_dir

_LOGGER = logging.getLogger(__name__)

CHUNK = 1024 * 1024
# The strongest hash the server gives is checked (hawkBit sends all three; some servers fewer).
HASHES = ("sha256", "sha1", "md5")

Progress = Callable[[int, int], Awaitable[None]]


class DownloadFailed(Exception):
    """The artefact could not be fetched (the part file is kept, to resume)."""


class ArtefactRejected(Exception):
    """The artefact is not what the server announced (the file is deleted)."""


def _hasher(hashes: dict[str, str]) -> tuple[str, Any]:
    for name in HASHES:
        if hashes.get(name):
            return name, hashlib.new(name)
    raise ArtefactRejected("the server gave no sha256, sha1 or md5 for the artefact")


def _hash_existing(path: Path, digest: Any) -> int:
    """Feed what a part file already holds into `digest`; its size."""
    size = 0
    try:
        with path.open("rb") as handle:
            while block := handle.read(CHUNK):
                digest.update(block)
                size += len(block)
    except FileNotFoundError:
        return 0
    return size


class Download:
    """Fetches one artefact into `target`, through `target` + `.part`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        target: Path,
        size: int,
        hashes: dict[str, str],
        *,
        attempts: int = 5,
        retry_delay: float = 2.0,
    ) -> None:
        self._session = session
        self._url = url
        self.target = target
        self.part = target.with_name(f".{target.name}.part")
        self._size = size
        self._hashes = hashes
        self._attempts = attempts
        self._retry_delay = retry_delay
        self.resumed = 0  # how many times a cut transfer was picked up where it stopped
        self._done = 0
        self._digest: Any = None

    async def run(self, progress: Progress) -> Path:
        """Download, resume, verify, and rename into place; the file's path."""
        name, digest = _hasher(self._hashes)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="homei-fleet-download")
        loop = asyncio.get_running_loop()
        try:
            done = await loop.run_in_executor(executor, _hash_existing, self.part, digest)
            if done > self._size:
                await loop.run_in_executor(executor, self.part.unlink)
                done, digest = 0, hashlib.new(name)
            self._done, self._digest = done, digest
            failures = 0
            while self._done < self._size:
                try:
                    await self._fetch(executor, progress)
                except _NoRange:
                    # The server ignored the Range header: start over from the first byte.
                    await loop.run_in_executor(executor, self.part.unlink)
                    self._done, self._digest = 0, hashlib.new(name)
                except DownloadFailed as err:
                    failures += 1
                    if failures >= self._attempts:
                        raise
                    _LOGGER.warning("Download cut at %d bytes (%s); resuming", self._done, err)
                    self.resumed += 1
                    await asyncio.sleep(self._retry_delay * failures)
            done, digest = self._done, self._digest
            expected = self._hashes[name].lower()
            if done != self._size or digest.hexdigest() != expected:
                await loop.run_in_executor(executor, self.part.unlink)
                raise ArtefactRejected(
                    f"{self.target.name}: {name} {digest.hexdigest()} and {done} bytes, "
                    f"the server announced {expected} and {self._size} bytes; deleted"
                )
            await loop.run_in_executor(executor, self._finish)
            return self.target
        finally:
            executor.shutdown(wait=False)

    def _finish(self) -> None:
        fd = os.open(self.part, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(self.part, self.target)
        fsync_dir(self.target.parent)

    async def discard(self) -> None:
        """Remove the part file (a cancelled action)."""
        await asyncio.to_thread(self.part.unlink, missing_ok=True)

    async def _fetch(self, executor: ThreadPoolExecutor, progress: Progress) -> None:
        headers = {"Range": f"bytes={self._done}-"} if self._done else {}
        loop = asyncio.get_running_loop()
        fd = await loop.run_in_executor(
            executor, os.open, self.part, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
        try:
            async with self._session.get(self._url, headers=headers) as response:
                if self._done and response.status == 200:
                    raise _NoRange
                if response.status not in (200, 206):
                    raise DownloadFailed(f"HTTP {response.status}")
                last = self._done
                step = max(self._size // 50, CHUNK)
                # One write (and hash) in flight on the worker while the next block is
                # received; `_done` counts only what is written and hashed.
                pending: asyncio.Future[None] | None = None
                pending_size = 0
                try:
                    async for block in response.content.iter_chunked(CHUNK):
                        if self._done + pending_size + len(block) > self._size:
                            raise DownloadFailed("the server sent more bytes than announced")
                        if pending is not None:
                            await pending
                            self._done += pending_size
                        offset = self._done
                        pending = loop.run_in_executor(
                            executor, _write, fd, offset, block, self._digest
                        )
                        pending_size = len(block)
                        if self._done - last >= step:
                            last = self._done
                            await progress(self._done, self._size)
                finally:
                    if pending is not None:
                        await pending
                        self._done += pending_size
                await progress(self._done, self._size)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DownloadFailed(str(err) or type(err).__name__) from None
        finally:
            await loop.run_in_executor(executor, os.close, fd)
        if self._done < self._size:
            raise DownloadFailed(f"connection ended after {self._done} of {self._size} bytes")


class _NoRange(Exception):
    pass


def _write(fd: int, offset: int, block: bytes, digest: Any) -> None:
    view = memoryview(block)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
    digest.update(block)
