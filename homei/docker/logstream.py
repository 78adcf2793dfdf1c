"""Docker's log stream, read in bulk.

For a container without a TTY the engine multiplexes stdout and stderr into frames: an
8-byte header (stream, three zero bytes, the payload's length big-endian) and the
payload. `Demuxer` strips the headers from whatever arrives, across any chunk
boundary, so a follower can pass on everything one network read brought in one write
instead of one write per line.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator

HEADER = struct.Struct(">BxxxL")


class Demuxer:
    """Feeds multiplexed bytes in, takes payload bytes out."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._remaining = 0  # payload bytes still owed by the current frame

    def feed(self, data: bytes) -> bytes:
        """The payload bytes `data` completes (possibly empty)."""
        out = bytearray()
        view = memoryview(data)
        while view:
            if self._remaining:
                take = min(self._remaining, len(view))
                out += view[:take]
                view = view[take:]
                self._remaining -= take
                continue
            need = HEADER.size - len(self._pending)
            self._pending += view[:need]
            view = view[need:]
            if len(self._pending) == HEADER.size:
                _, self._remaining = HEADER.unpack(self._pending)
                self._pending.clear()
        return bytes(out)


async def payloads(chunks: AsyncIterator[bytes], *, tty: bool) -> AsyncIterator[bytes]:
    """The log's bytes as they arrive, headers removed (a TTY's stream has none)."""
    demuxer = None if tty else Demuxer()
    async for chunk in chunks:
        data = chunk if demuxer is None else demuxer.feed(chunk)
        if data:
            yield data
