"""The backup file: an outer tar of one compressed (and maybe encrypted) inner tar per
part, then `manifest.json`. Written in one pass (each part's tar header is rewritten with
its size once the part is complete) and read member by member; blocking throughout, so it
runs on a worker thread, with memory bounded by a few chunks whatever the backup's size."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import zstandard

from homei.backup.crypto import DecryptionError, Decryptor, Encryptor
from homei.backup.extract import Extractor, is_refused_kind
from homei.backup.manifest import MANIFEST_NAME, MAX_MANIFEST, BackupError, BackupManifest, Part
from homei.backup.manifest import decode as decode_manifest

BLOCK = tarfile.BLOCKSIZE
CHUNK = 1024 * 1024
ZSTD_LEVEL = 3
MAX_MEMBERS = 100_000
Progress = Callable[[int], None]


def _nothing(_: int) -> None:
    pass


@dataclass(frozen=True, slots=True)
class WrittenPart:
    size: int
    raw_size: int
    sha256: str
    files: int


class _StoredSink:
    """What a part's compressed stream is written to: encrypted, hashed, counted, stored."""

    def __init__(self, out: IO[bytes], encryptor: Encryptor | None) -> None:
        self._out = out
        self._encryptor = encryptor
        self.sha256 = hashlib.sha256()
        self.size = 0
        if encryptor is not None:
            self._store(encryptor.header)

    def write(self, data: bytes) -> int:
        self._store(self._encryptor.update(data) if self._encryptor else bytes(data))
        return len(data)

    def finish(self) -> None:
        if self._encryptor is not None:
            self._store(self._encryptor.finish())

    def _store(self, data: bytes) -> None:
        if data:
            self._out.write(data)
            self.sha256.update(data)
            self.size += len(data)


class _RawCounter:
    """Counts the bytes of the inner tar on their way into the compressor."""

    def __init__(self, target: Any, on_bytes: Progress) -> None:
        self._target = target
        self._on_bytes = on_bytes
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        self._on_bytes(len(data))
        self._target.write(data)
        return len(data)


def _keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return (
        None
        if info.type not in (tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE)
        else info
    )


class BackupWriter:
    """Writes the outer tar to an open file; the caller fsyncs and renames it."""

    def __init__(self, out: IO[bytes], key: bytes | None, on_bytes: Progress = _nothing) -> None:
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
        # Every core, in jobs of 1 MiB: zstd's default jobs (8 MiB at level 3) cost tens of MiB.
        compressor = zstandard.ZstdCompressor(
            compression_params=zstandard.ZstdCompressionParameters.from_level(
                ZSTD_LEVEL, threads=-1, job_size=CHUNK
            )
        )
        zwriter = compressor.stream_writer(sink, write_size=CHUNK, closefd=False)  # type: ignore[arg-type]
        counter = _RawCounter(zwriter, self._on_bytes)
        count = 0
        with tarfile.open(  # type: ignore[call-overload]
            fileobj=counter, mode="w|", format=tarfile.PAX_FORMAT, bufsize=CHUNK,
            copybufsize=CHUNK,
        ) as inner:  # fmt: skip
            for arcname, source in sorted(files.items()):
                if isinstance(source, bytes):
                    info = tarfile.TarInfo(arcname)
                    info.size, info.mtime, info.mode = len(source), int(time.time()), 0o600
                    inner.addfile(info, io.BytesIO(source))
                    count += 1
                elif source.is_file():
                    inner.add(source, arcname=arcname)
                    count += 1
                else:
                    count += _add_tree(inner, source, arcname)
        zwriter.flush(zstandard.FLUSH_FRAME)
        sink.finish()
        end = self._out.tell()
        size = end - start - len(header)
        if size % BLOCK:
            self._out.write(b"\0" * (BLOCK - size % BLOCK))
        after = self._out.tell()
        self._out.seek(start)
        self._out.write(self._header(member, size))
        self._out.seek(after)
        return WrittenPart(size, counter.count, sink.sha256.hexdigest(), count)

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


def _add_tree(inner: tarfile.TarFile, root: Path, arcname: str) -> int:
    """Archive a folder (not following links, leaving devices and fifos out)."""
    count = 0
    if not root.is_dir():
        return 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        relative = base.relative_to(root)
        name = arcname if relative == Path(".") else f"{arcname}/{relative.as_posix()}"
        inner.add(base, arcname=name, recursive=False)
        for filename in sorted(filenames):
            path = base / filename
            mode = path.lstat().st_mode
            if is_refused_kind(mode):
                continue
            info = inner.gettarinfo(path, arcname=f"{name}/{filename}")
            if info.isreg():
                with path.open("rb") as handle:
                    inner.addfile(info, handle)
            else:
                inner.addfile(info)
            count += 1
        # Links to folders are archived as links, never followed.
        for dirname in [d for d in dirnames if (base / d).is_symlink()]:
            inner.addfile(inner.gettarinfo(base / dirname, arcname=f"{name}/{dirname}"))
            dirnames.remove(dirname)
    return count


class BackupReader:
    """Reads a backup file: its manifest, then each part verified as it is unpacked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._tar = tarfile.open(path, "r:")  # noqa: SIM115 - closed by close()
        except (tarfile.TarError, OSError) as err:
            raise BackupError(f"Not a Homei backup: {err}") from None
        self._members: dict[str, tarfile.TarInfo] = {}
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
            reader = zstandard.ZstdDecompressor().stream_reader(stream, read_size=CHUNK)  # type: ignore[arg-type]
            extractor = Extractor(root, tops, part.raw_size)
            try:
                with tarfile.open(fileobj=reader, mode="r|", bufsize=CHUNK) as inner:
                    extractor.extract_all(inner)
            except (tarfile.TarError, zstandard.ZstdError, EOFError) as err:
                raise BackupError(f"The backup's part '{part.name}' is damaged: {err}") from None
            return extractor.files

    @contextmanager
    def _stored(self, part: Part, key: bytes | None, on_bytes: Progress) -> Iterator[_PartStream]:
        handle = self._tar.extractfile(self._members[part.member])
        assert handle is not None
        decryptor = Decryptor(key, part.member) if key is not None else None
        stream = _PartStream(handle, decryptor, on_bytes)
        try:
            yield stream
            stream.drain()
        except DecryptionError as err:
            raise BackupError(f"The backup's part '{part.name}': {err}") from None
        if stream.sha256.hexdigest() != part.sha256:
            raise BackupError(
                f"The backup's part '{part.name}' does not match its checksum: it is damaged"
            )


class _PartStream(io.RawIOBase):
    """A stored part read back: hashed, decrypted (authenticated frames only), as a stream."""

    def __init__(self, raw: IO[bytes], decryptor: Decryptor | None, on_bytes: Progress) -> None:
        self._raw = raw
        self._decryptor = decryptor
        self._on_bytes = on_bytes
        self._pending = b""
        self._eof = False
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self._pending and not self._eof:
            data = self._raw.read(CHUNK)
            if data:
                self.sha256.update(data)
                self._on_bytes(len(data))
                self._pending = self._decryptor.update(data) if self._decryptor else data
            else:
                self._eof = True
                if self._decryptor is not None:
                    self._pending = self._decryptor.finish()

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
