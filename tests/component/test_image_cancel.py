"""An image load whose client goes away midway holds nothing: the next load of the same
image runs and succeeds (a real Docker engine)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from tests.component.test_containers import homei, run
from tests.docker_env import IMAGE, dockerd_available

pytestmark = pytest.mark.skipif(not dockerd_available(), reason="dockerd is not installed")
__all__ = ["homei"]  # the fixture, shared with the containers tests


async def test_a_load_cut_off_midway_holds_nothing(homei, engine, tmp_path: Path):
    headers = {**await homei.auth(), "Content-Type": "application/x-tar"}
    await run(engine, "tag", IMAGE, "homei-test/cut:1")
    tarball = await asyncio.to_thread(engine.save_image, "homei-test/cut:1", tmp_path / "cut.tar")
    await run(engine, "rmi", "homei-test/cut:1")
    data = await asyncio.to_thread(tarball.read_bytes)
    sent = asyncio.Event()

    async def half_then_stall():
        yield data[: len(data) // 2]
        sent.set()
        await asyncio.Event().wait()

    cut = asyncio.create_task(
        homei.client.post("/api/v1/images/load", data=half_then_stall(), headers=headers)
    )
    async with asyncio.timeout(30):
        await sent.wait()
    cut.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await cut
    assert not await asyncio.to_thread(engine.image_id, "homei-test/cut:1")

    response = await homei.client.post("/api/v1/images/load", data=data, headers=headers)
    assert response.status == 201, await response.text()
    assert (await response.json())["images"] == ["homei-test/cut:1"]
    await run(engine, "rmi", "homei-test/cut:1")
