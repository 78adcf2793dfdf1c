"""The one upload path (homei/core/uploads.py) on real files: limits, free space, hash,
fsync and rename; whatever goes wrong, no partial file stays behind."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from homei.core import uploads
from homei.core.errors import InsufficientStorage, PayloadTooLarge, ValidationError


async def stream(*chunks: bytes):
    for chunk in chunks:
        yield chunk


async def receive(directory: Path, *chunks: bytes, limit: int = 1 << 20, declared=None):
    return await uploads.receive(
        stream(*chunks), directory / ".upload-x", limit=limit, declared_size=declared,
        what="the thing",
    )  # fmt: skip


async def test_a_complete_upload_is_hashed_and_moved_into_place(tmp_path: Path):
    data = [os.urandom(100_000) for _ in range(5)]
    received = await receive(tmp_path, *data, declared=500_000)
    assert received.size == 500_000
    assert received.sha256 == hashlib.sha256(b"".join(data)).hexdigest()
    final = tmp_path / "thing.bin"
    await uploads.move_into_place(received.path, final, replace=False)
    assert final.read_bytes() == b"".join(data) and not received.path.exists()
    other = await receive(tmp_path, b"new")
    with pytest.raises(FileExistsError):
        await uploads.move_into_place(other.path, final, replace=False)
    await uploads.move_into_place(other.path, final, replace=True)
    assert final.read_bytes() == b"new"


@pytest.mark.parametrize(
    ("chunks", "declared", "error"),
    [
        ((b"x" * 600, b"x" * 600), None, PayloadTooLarge),  # passes the limit midway
        ((b"x",), 2000, PayloadTooLarge),  # announced over the limit: refused at once
        ((b"x" * 10,), 20, ValidationError),  # ended before its declared length
        ((), None, ValidationError),  # empty
    ],
    ids=["over-limit-midway", "declared-over-limit", "short", "empty"],
)
async def test_a_refused_upload_leaves_nothing(tmp_path: Path, chunks, declared, error):
    with pytest.raises(error):
        await receive(tmp_path, *chunks, limit=1000, declared=declared)
    assert list(tmp_path.iterdir()) == []


async def test_no_room_is_507_before_anything_is_written(tmp_path: Path):
    free = (await asyncio.to_thread(shutil.disk_usage, tmp_path)).free
    with pytest.raises(InsufficientStorage) as refused:
        await receive(tmp_path, b"x", limit=1 << 62, declared=free)
    assert refused.value.status == 507 and refused.value.code == "INSUFFICIENT_STORAGE"
    assert refused.value.details["needed"] == free + uploads.FREE_SPACE_MARGIN
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def small_disk(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "small"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=80m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


async def test_a_disk_that_fills_midway_is_507_and_leaves_nothing(small_disk: Path):
    chunk = b"\0" * (1 << 20)
    # Undeclared length: the free-space check passes, the disk fills on the way.
    with pytest.raises(InsufficientStorage, match="filled up"):
        await receive(small_disk, *([chunk] * 100), limit=1 << 30)
    assert list(small_disk.iterdir()) == []


async def test_bounded_counts_and_stops_a_stream_past_its_limit():
    bounded = uploads.Bounded(stream(b"ab", b"cd", b"ef"), 5, "the image")
    seen: list[bytes] = []

    async def read() -> None:
        async for chunk in bounded:
            seen.append(chunk)

    with pytest.raises(PayloadTooLarge, match="the image exceeds the limit of 5 bytes"):
        await read()
    assert seen == [b"ab", b"cd"] and bounded.received == 6
