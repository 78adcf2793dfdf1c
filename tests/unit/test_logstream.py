"""Docker's multiplexed log frames stripped across any chunk boundary."""

from __future__ import annotations

import random

import pytest

from homei.docker.logstream import HEADER, Demuxer

LINES = [f"line {i} {'x' * (i % 300)}\n".encode() for i in range(2000)]
FRAMES = b"".join(HEADER.pack(1 + i % 2, len(line)) + line for i, line in enumerate(LINES))


@pytest.mark.parametrize("seed", range(5))
def test_payloads_come_out_whole_whatever_the_chunks(seed):
    rng = random.Random(seed)
    demuxer, out, position = Demuxer(), [], 0
    while position < len(FRAMES):
        size = rng.choice((1, 3, 8, 9, rng.randint(1, 20_000)))
        out.append(demuxer.feed(FRAMES[position : position + size]))
        position += size
    assert b"".join(out) == b"".join(LINES)


def test_an_empty_frame_and_an_empty_chunk_add_nothing():
    demuxer = Demuxer()
    assert demuxer.feed(b"") == b""
    assert demuxer.feed(HEADER.pack(1, 0) + HEADER.pack(1, 2) + b"ok") == b"ok"
