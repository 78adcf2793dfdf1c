"""A part's inner tar (PAX format), written straight into its compressor: headers from
`tarfile`, file data read into one reused buffer, so no byte is copied on its way but into
zstd's jobs. Blocking; it runs on the worker thread that writes the backup."""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from homei.backup.extract import is_refused_kind

BLOCK = tarfile.BLOCKSIZE
READ = 1024 * 1024
_ZEROS = bytes(tarfile.RECORDSIZE)


class Target(Protocol):
    def write(self, data: bytes | memoryview, /) -> int: ...


class InnerTar:
    """Packs folders (not following links, leaving devices and fifos out), files and bytes."""

    def __init__(self, target: Target, on_bytes: Callable[[int], None]) -> None:
        self._target = target
        self._on_bytes = on_bytes
        # Only for `gettarinfo`: owner names, link targets, and hard links to files seen.
        self._meta = tarfile.TarFile(fileobj=io.BytesIO(), mode="w", format=tarfile.PAX_FORMAT)
        self._buffer = memoryview(bytearray(READ))
        self.raw_size = 0
        self.files = 0

    def add(self, arcname: str, source: Path | bytes) -> None:
        """A file or folder archived at `arcname`, or bytes stored as a file there."""
        if isinstance(source, bytes):
            info = tarfile.TarInfo(arcname)
            info.size, info.mtime, info.mode = len(source), int(time.time()), 0o600
            self._header(info)
            self._emit(source)
            self._pad(len(source))
            self.files += 1
        elif source.is_file():
            self._entry(source, arcname)
            self.files += 1
        elif source.is_dir():
            self._tree(source, arcname)

    def close(self) -> None:
        """The end-of-archive blocks, padded to a whole record as `tarfile` does."""
        self._emit(_ZEROS[: 2 * BLOCK])
        remainder = self.raw_size % tarfile.RECORDSIZE
        if remainder:
            self._emit(_ZEROS[: tarfile.RECORDSIZE - remainder])

    def _tree(self, root: Path, arcname: str) -> None:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            base = Path(dirpath)
            relative = base.relative_to(root)
            name = arcname if relative == Path(".") else f"{arcname}/{relative.as_posix()}"
            self._header(self._meta.gettarinfo(base, arcname=name))
            for filename in sorted(filenames):
                path = base / filename
                if is_refused_kind(path.lstat().st_mode):
                    continue
                self._entry(path, f"{name}/{filename}")
                self.files += 1
            # Links to folders are archived as links, never followed.
            for dirname in [d for d in dirnames if (base / d).is_symlink()]:
                self._header(self._meta.gettarinfo(base / dirname, arcname=f"{name}/{dirname}"))
                dirnames.remove(dirname)

    def _entry(self, path: Path, arcname: str) -> None:
        info = self._meta.gettarinfo(path, arcname=arcname)
        self._header(info)
        if info.isreg():
            self._data(path, info.size)

    def _data(self, path: Path, size: int) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            left = size
            while left:
                count = os.readv(fd, [self._buffer[: min(left, READ)]])
                if not count:
                    raise OSError(f"'{path}' shrank while it was backed up")
                self._emit(self._buffer[:count])
                left -= count
        finally:
            os.close(fd)
        self._pad(size)

    def _header(self, info: tarfile.TarInfo) -> None:
        self._emit(info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape"))

    def _pad(self, size: int) -> None:
        if size % BLOCK:
            self._emit(_ZEROS[: BLOCK - size % BLOCK])

    def _emit(self, data: bytes | memoryview) -> None:
        self._target.write(data)
        self.raw_size += len(data)
        self._on_bytes(len(data))
