"""The backup file read back: an outer tar of one compressed (and maybe encrypted) inner tar
per part, then `manifest.json` (written by `writer.py`). Read member by member, each part
verified as it is unpacked; blocking throughout, so it runs on a worker thread, with memory
bounded by a few chunks whatever the backup's size.

A part is read with `pread` on a thread of its own that hashes (and decrypts) it, zstd
decompresses it into the unpacker's one buffer, and files are written from there."""

from __future__ import annotations

import hashlib
import io
import os
import queue
import tarfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import zstandard

from homei.backup.crypto import DecryptionError, Decryptor
from homei.backup.extract import Extractor
from homei.backup.manifest import MANIFEST_NAME, MAX_MANIFEST, BackupError, BackupManifest, Part
from homei.backup.manifest import decode as decode_manifest
from homei.backup.unpacker import DamagedTar, InnerTarReader

# zstd -3's window is 2 MiB (window log 21); 32 MiB leaves room for any level we write.
MAX_WINDOW = 1 << 25
CHUNK = 1024 * 1024
MAX_MEMBERS = 100_000
AHEAD = 4  # chunks read ahead of the unpacking
Progress = Callable[[int], None]


def _nothing(_: int) -> None:
    pass


class BackupReader:
    """Reads a backup file: its manifest, then each part verified as it is unpacked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._tar = tarfile.open(path, "r:")  # noqa: SIM115 - closed by close()
        except (tarfile.TarError, OSError) as err:
            raise BackupError(f"Not a Homei backup: {err}") from None
        self._members: dict[str, tarfile.TarInfo] = {}
        self._fd = -1
        try:
            for member in self._tar:
                if len(self._members) > MAX_MEMBERS:
                    raise BackupError("The backup holds far more members than a backup has")
                if member.name in self._members:
                    raise BackupError(f"The backup holds '{member.name[:100]}' twice")
                self._members[member.name] = member
        except tarfile.TarError as err:
            self.close()
            raise BackupError(f"The backup is damaged: {err}") from None
        except BaseException:
            self.close()
            raise
        self.manifest = self._read_manifest()
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            self.close()
            raise BackupError(f"Not a Homei backup: {err}") from None

    def _read_manifest(self) -> BackupManifest:
        member = self._members.get(MANIFEST_NAME)
        if member is None or not member.isreg() or member.size > MAX_MANIFEST:
            self.close()
            raise BackupError("Not a Homei backup: it has no manifest.json")
        handle = self._tar.extractfile(member)
        assert handle is not None
        try:
            manifest = decode_manifest(handle.read())
            for part in manifest.parts:
                stored = self._members.get(part.member)
                if stored is None or not stored.isreg() or stored.size != part.size:
                    raise BackupError(f"The backup's part '{part.name}' is missing or cut off")
        except BaseException:
            self.close()
            raise
        return manifest

    def close(self) -> None:
        self._tar.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> BackupReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def verify(self, part: Part, key: bytes | None, on_bytes: Progress = _nothing) -> None:
        """Read a part through, checking its SHA-256 (and its authentication)."""
        with self._stored(part, key, on_bytes) as stream:
            while stream.read(CHUNK):
                pass

    def extract(
        self, part: Part, key: bytes | None, root: Path, tops: frozenset[str],
        on_bytes: Progress = _nothing,
    ) -> int:  # fmt: skip
        """Unpack a part below `root` (a fresh staging folder); checksum checked at its end."""
        with self._stored(part, key, on_bytes) as stream:
            # Our writer's frames need a few MiB of window; a hostile part asking for more
            # memory than that is refused instead of allocated.
            decompressor = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW)
            reader = decompressor.stream_reader(stream, read_size=CHUNK)  # type: ignore[arg-type]
            extractor = Extractor(root, tops, part.raw_size)
            try:
                extractor.extract_all(InnerTarReader(reader))
            except (DamagedTar, zstandard.ZstdError) as err:
                raise BackupError(f"The backup's part '{part.name}' is damaged: {err}") from None
            return extractor.files

    @contextmanager
    def _stored(self, part: Part, key: bytes | None, on_bytes: Progress) -> Iterator[_PartStream]:
        stored = self._members[part.member]
        decryptor = Decryptor(key, part.member) if key is not None else None
        stream = _PartStream(self._fd, stored.offset_data, stored.size, decryptor, on_bytes)
        try:
            yield stream
            stream.drain()
        except DecryptionError as err:
            raise BackupError(f"The backup's part '{part.name}': {err}") from None
        finally:
            stream.close()
        if stream.sha256.hexdigest() != part.sha256:
            raise BackupError(
                f"The backup's part '{part.name}' does not match its checksum: it is damaged"
            )


class _PartStream(io.RawIOBase):
    """A stored part read back: hashed and decrypted (authenticated frames only) on a thread
    of its own, at most `AHEAD` chunks ahead of the consumer, which unpacks meanwhile."""

    def __init__(
        self, fd: int, offset: int, size: int, decryptor: Decryptor | None, on_bytes: Progress
    ) -> None:
        self._fd = fd
        self._offset = offset
        self._left = size
        self._decryptor = decryptor
        self._on_bytes = on_bytes
        self._pending = b""
        self._eof = False
        self.sha256 = hashlib.sha256()
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="homei-backup-read", daemon=True)
        self._thread.start()

    def readable(self) -> bool:
        return True

    def _run(self) -> None:
        """Ends by queueing None (the end, or told to stop) or the error that stopped it."""
        decryptor = self._decryptor
        try:
            while not self._stop.is_set():
                if not self._left:
                    if decryptor is not None:
                        self._queue.put(decryptor.finish())
                    break
                data = os.pread(self._fd, min(CHUNK, self._left), self._offset)
                if not data:
                    raise BackupError("The backup is cut off: it ends inside a part")
                self._offset += len(data)
                self._left -= len(data)
                self.sha256.update(data)
                self._on_bytes(len(data))
                plain = decryptor.update(data) if decryptor else data
                if plain:
                    self._queue.put(plain)
        except BaseException as err:  # raised in the consumer's thread instead
            self._queue.put(err)
            return
        self._queue.put(None)

    def _fill(self) -> None:
        while not self._pending and not self._eof:
            item = self._queue.get()
            if item is None or isinstance(item, BaseException):
                self._eof = True
                if item is not None:
                    raise item
            else:
                self._pending = item

    def read(self, size: int = -1) -> bytes:
        self._fill()
        if size < 0 or size >= len(self._pending):
            data, self._pending = self._pending, b""
        else:
            data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        """Read what the consumer left (trailing data must authenticate and hash too)."""
        while self.read(CHUNK):
            pass

    def close(self) -> None:
        """Stop the reading thread, wherever it is."""
        self._stop.set()
        while not self._eof:
            item = self._queue.get()
            self._eof = item is None or isinstance(item, BaseException)
        self._thread.join()
        super().close()
