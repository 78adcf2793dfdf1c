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
        self._pending = b""  # the start of a header cut by a chunk boundary
        self._remaining = 0  # payload bytes still owed by the current frame

    def feed(self, data: bytes) -> bytes:
        """The payload bytes `data` completes (possibly empty)."""
        # Offsets into one bytes object and one join: a frame per log line makes this loop
        # the follower's hot path.
        if self._pending:
            data, self._pending = self._pending + data, b""
        size, position, remaining = len(data), 0, self._remaining
        out = []
        if remaining:
            position = min(remaining, size)
            out.append(data[:position])
            remaining -= position
        unpack = HEADER.unpack_from
        while not remaining and position + HEADER.size <= size:
            _, length = unpack(data, position)
            start = position + HEADER.size
            position = start + length
            if position > size:
                remaining, position = position - size, size
            out.append(data[start:position])
        if not remaining and position < size:
            self._pending = data[position:]
        self._remaining = remaining
        return b"".join(out)


async def payloads(chunks: AsyncIterator[bytes], *, tty: bool) -> AsyncIterator[bytes]:
    """The log's bytes as they arrive, headers removed (a TTY's stream has none)."""
    demuxer = None if tty else Demuxer()
    async for chunk in chunks:
        data = chunk if demuxer is None else demuxer.feed(chunk)
        if data:
            yield data
