"""Writing the backup file: the outer tar of one compressed (and maybe encrypted) inner tar
per part, then `manifest.json`, in one pass (each part's tar header is rewritten with its
size once the part is complete). Blocking, so it runs on a worker thread.

Three stages run at once, so two cores are kept busy: the calling thread reads files into
zstd, zstd's workers compress, and a thread of the part's own encrypts, hashes and stores
what comes out. Memory stays bounded by a few chunks whatever the backup's size."""

from __future__ import annotations

import hashlib
import io
import os
import queue
import tarfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import zstandard

from homei.backup.crypto import Encryptor
from homei.backup.manifest import MANIFEST_NAME
from homei.backup.packer import BLOCK, InnerTar

CHUNK = 1024 * 1024
ZSTD_LEVEL = 3
PENDING_CHUNKS = 8  # compressed chunks waiting for the storing thread
WRITEBACK_BYTES = 32 * 1024 * 1024


def _nothing(_: int) -> None:
    pass


@dataclass(frozen=True, slots=True)
class WrittenPart:
    size: int
    raw_size: int
    sha256: str
    files: int


class _StoredSink:
    """What a part's compressed stream is written to: encrypted, hashed, counted and stored
    on a thread of its own. Writeback starts every `WRITEBACK_BYTES`, so the final fsync is
    short and the page cache never holds the whole backup."""

    def __init__(self, out: IO[bytes], encryptor: Encryptor | None) -> None:
        self._out = out
        self._encryptor = encryptor
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._fd = _fileno(out)
        self._flushed = out.tell()
        self._queue: queue.Queue[bytes | None] = queue.Queue(PENDING_CHUNKS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="homei-backup-store", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> int:
        """Called by zstd with each compressed chunk (a fresh `bytes`)."""
        if self._error is not None:
            raise self._error
        self._queue.put(data)
        return len(data)

    def finish(self) -> None:
        """Wait for everything queued to be stored; raises what storing raised."""
        self.close()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        encryptor = self._encryptor
        try:
            if encryptor is not None:
                self._store(encryptor.header)
            while (data := self._queue.get()) is not None:
                self._store(encryptor.update(data) if encryptor else data)
            if encryptor is not None:
                self._store(encryptor.finish())
        except BaseException as err:  # handed to the packing thread, which raises it
            self._error = err
            while self._queue.get() is not None:  # never leave the packer blocked
                pass

    def _store(self, data: bytes) -> None:
        if not data:
            return
        self._out.write(data)
        self.sha256.update(data)
        self.size += len(data)
        if self._fd is not None and self._out.tell() - self._flushed >= WRITEBACK_BYTES:
            self._out.flush()
            end = self._out.tell()
            # Starts writeback of what is written so far without waiting for it.
            os.posix_fadvise(self._fd, self._flushed, end - self._flushed, os.POSIX_FADV_DONTNEED)
            self._flushed = end


def _fileno(out: IO[bytes]) -> int | None:
    try:
        return out.fileno()
    except (OSError, io.UnsupportedOperation):
        return None


def _compressor() -> zstandard.ZstdCompressor:
    # Every core, in jobs of 1 MiB: zstd's default jobs (8 MiB at level 3) cost tens of MiB.
    return zstandard.ZstdCompressor(
        compression_params=zstandard.ZstdCompressionParameters.from_level(
            ZSTD_LEVEL, threads=-1, job_size=CHUNK
        )
    )


class BackupWriter:
    """Writes the outer tar to an open file; the caller fsyncs and renames it."""

    def __init__(
        self, out: IO[bytes], key: bytes | None, on_bytes: Callable[[int], None] = _nothing
    ) -> None:
        self._out = out
        self._key = key
        self._on_bytes = on_bytes

    def add_part(self, member: str, files: Mapping[str, Path | bytes]) -> WrittenPart:
        """One part: each key is a path inside the part, each value a folder or file to
        archive there, or bytes to store as a file."""
        start = self._out.tell()
        header = self._header(member, 0)
        self._out.write(header)
        encryptor = Encryptor(self._key, member) if self._key is not None else None
        sink = _StoredSink(self._out, encryptor)
        try:
            zwriter = _compressor().stream_writer(sink, write_size=CHUNK, closefd=False)  # type: ignore[arg-type]
            inner = InnerTar(zwriter, self._on_bytes)
            for arcname, source in sorted(files.items()):
                inner.add(arcname, source)
            inner.close()
            zwriter.flush(zstandard.FLUSH_FRAME)
            sink.finish()
        finally:
            sink.close()
        end = self._out.tell()
        size = end - start - len(header)
        if size % BLOCK:
            self._out.write(b"\0" * (BLOCK - size % BLOCK))
        after = self._out.tell()
        self._out.seek(start)
        self._out.write(self._header(member, size))
        self._out.seek(after)
        return WrittenPart(size, inner.raw_size, sink.sha256.hexdigest(), inner.files)

    def finish(self, manifest: bytes) -> None:
        """The manifest, then the end-of-archive blocks."""
        self._out.write(self._header(MANIFEST_NAME, len(manifest)))
        self._out.write(manifest)
        if len(manifest) % BLOCK:
            self._out.write(b"\0" * (BLOCK - len(manifest) % BLOCK))
        self._out.write(b"\0" * (2 * BLOCK))
        self._out.flush()

    @staticmethod
    def _header(name: str, size: int) -> bytes:
        # GNU format: the header's length never depends on the size (base-256 past 8 GiB).
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, int(time.time()), 0o600
        return info.tobuf(format=tarfile.GNU_FORMAT)
