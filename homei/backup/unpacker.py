"""A part's inner tar read back as `packer.py` writes it: ustar headers, each maybe after one
pax header (long or non-ASCII names and link targets, large sizes and ids, exact mtimes).
Everything else is refused: GNU long names, global or unknown pax records, base-256 numbers,
a wrong header checksum, data after the end, an archive cut off. File data is decompressed
into one reused buffer and written from it, so no byte is copied but by zstd and the kernel.
Blocking; it runs on the restore's worker thread."""

from __future__ import annotations

import os
import re
import struct
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

BLOCK = tarfile.BLOCKSIZE
BUFFER = 1024 * 1024
MAX_PAX = 64 * 1024
MAX_TRAILER = BUFFER  # zeros allowed after the end-of-archive block
_MAGIC = b"ustar\x0000"
_PAX_KEYS = frozenset(
    {"path", "linkpath", "size", "uid", "gid", "uname", "gname", "mtime", "hdrcharset"}
)
_DATA_KINDS = (tarfile.REGTYPE, tarfile.AREGTYPE)
_SIGNED = struct.Struct("148b8x356b")
_DECIMAL = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?")


class DamagedTar(Exception):
    """An inner tar that is malformed, cut off, or of a form Homei never writes."""


class Source(Protocol):
    def readinto(self, buffer: memoryview, /) -> int: ...


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    kind: bytes
    size: int
    mode: int
    uid: int
    gid: int
    mtime: float
    linkname: str

    def isdir(self) -> bool:
        return self.kind == tarfile.DIRTYPE

    def issym(self) -> bool:
        return self.kind == tarfile.SYMTYPE

    def islnk(self) -> bool:
        return self.kind == tarfile.LNKTYPE


class InnerTarReader:
    """Iterates the members; a regular file's data is written with `write_data` before the
    next member is read (or skipped, if it is not)."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._buffer = bytearray(BUFFER)
        self._view = memoryview(self._buffer)
        self._start = 0
        self._end = 0
        self._data = 0  # bytes of the current member's data not yet written
        self._padding = 0

    def __iter__(self) -> Iterator[Member]:
        while (member := self._next()) is not None:
            yield member

    def write_data(self, fd: int, on_bytes: Callable[[int], None]) -> None:
        """The current member's data, written to `fd` straight from the buffer."""
        left = self._data
        while left:
            if self._start == self._end:
                self._refill()
            count = min(left, self._end - self._start)
            view = self._view[self._start : self._start + count]
            while view:
                view = view[os.write(fd, view) :]
            self._start += count
            left -= count
            self._data = left
            on_bytes(count)

    def _next(self) -> Member | None:
        self._skip(self._data + self._padding)
        self._data = self._padding = 0
        header = self._header()
        if header is None:
            return None
        pax: dict[str, str] = {}
        if header[156:157] == tarfile.XHDTYPE:
            size = _number(header[124:136])
            if size > MAX_PAX:
                raise DamagedTar("a pax header is larger than any Homei writes")
            pax = _pax_records(self._take(size))
            self._skip(-size % BLOCK)
            header = self._header()
            if header is None or header[156:157] == tarfile.XHDTYPE:
                raise DamagedTar("a pax header is not followed by its member")
        member = _member(header, pax)
        if member.kind in _DATA_KINDS:
            self._data, self._padding = member.size, -member.size % BLOCK
        elif member.size:
            raise DamagedTar(f"'{member.name[:200]}' has data but is no regular file")
        return member

    def _header(self) -> bytes | None:
        """The next header block, checked; None at the end of the archive."""
        header = self._take(BLOCK)
        if header.count(0) == BLOCK:
            self._check_trailer()
            return None
        if header[257:265] != _MAGIC:
            raise DamagedTar("a member header is not a POSIX ustar header")
        stored = _number(header[148:156])
        unsigned = 256 + sum(header[:148]) + sum(header[156:])
        if stored not in (unsigned, 256 + sum(_SIGNED.unpack_from(header))):
            raise DamagedTar("a member header does not match its checksum")
        return header

    def _check_trailer(self) -> None:
        """After the end-of-archive block: only zero padding, then the end of the stream."""
        seen = 0
        while True:
            count = self._end - self._start
            if self._buffer.count(0, self._start, self._end) != count:
                raise DamagedTar("data follows the end of the archive")
            seen += count
            if seen > MAX_TRAILER:
                raise DamagedTar("data follows the end of the archive")
            self._start = self._end = 0
            count = self._source.readinto(self._view)
            if not count:
                return
            self._end = count

    def _take(self, size: int) -> bytes:
        """`size` bytes (a header or pax records, so small) copied out of the stream."""
        if self._end - self._start < size:
            rest = bytes(self._view[self._start : self._end])
            self._buffer[: len(rest)] = rest
            self._start, self._end = 0, len(rest)
            while self._end < size:
                count = self._source.readinto(self._view[self._end :])
                if not count:
                    raise DamagedTar("the archive is cut off: it ends inside a header")
                self._end += count
        data = bytes(self._view[self._start : self._start + size])
        self._start += size
        return data

    def _skip(self, size: int) -> None:
        while size:
            if self._start == self._end:
                self._refill()
            count = min(size, self._end - self._start)
            self._start += count
            size -= count

    def _refill(self) -> None:
        count = self._source.readinto(self._view)
        if not count:
            raise DamagedTar("the archive is cut off: it ends inside a member's data")
        self._start, self._end = 0, count


def _number(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:
        raise DamagedTar("a member header holds a base-256 number")
    text = field.split(b"\0", 1)[0].strip(b" ")
    if text.strip(b"01234567"):
        raise DamagedTar("a member header holds a malformed number")
    return int(text, 8) if text else 0


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _member(header: bytes, pax: dict[str, str]) -> Member:
    name = _text(header[0:100])
    if prefix := _text(header[345:500]):
        name = f"{prefix}/{name}"
    return Member(
        name=pax.get("path", name),
        kind=header[156:157],
        size=_pax_int(pax, "size") if "size" in pax else _number(header[124:136]),
        mode=_number(header[100:108]),
        uid=_pax_int(pax, "uid") if "uid" in pax else _number(header[108:116]),
        gid=_pax_int(pax, "gid") if "gid" in pax else _number(header[116:124]),
        mtime=_pax_float(pax, "mtime") if "mtime" in pax else _number(header[136:148]),
        linkname=pax.get("linkpath", _text(header[157:257])),
    )


def _pax_records(data: bytes) -> dict[str, str]:
    """`<length> <key>=<value>\\n` records, each key known and given once."""
    records: dict[str, str] = {}
    position = 0
    while position < len(data):
        space = data.find(b" ", position, position + 8)
        length = int(data[position:space]) if data[position:space].isdigit() else 0
        end = position + length
        if space < 0 or end <= space + 1 or end > len(data) or data[end - 1] != 0x0A:
            raise DamagedTar("a pax header is malformed")
        key, equals, value = data[space + 1 : end - 1].partition(b"=")
        keyword = key.decode("ascii", "replace")
        if not equals or keyword not in _PAX_KEYS or keyword in records:
            raise DamagedTar(f"a pax header holds a record Homei never writes: '{keyword[:40]}'")
        records[keyword] = value.decode("utf-8", "surrogateescape")
        position = end
    return records


def _pax_int(pax: dict[str, str], key: str) -> int:
    value = pax[key]
    if not value.isascii() or not value.isdigit() or len(value) > 20:
        raise DamagedTar(f"a pax header holds a malformed {key}")
    return int(value)


def _pax_float(pax: dict[str, str], key: str) -> float:
    if not _DECIMAL.fullmatch(pax[key]):
        raise DamagedTar(f"a pax header holds a malformed {key}")
    return float(pax[key])
