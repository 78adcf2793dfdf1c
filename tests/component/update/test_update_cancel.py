"""Cancelling an install, before its task's first step and midway: the install turn is
given back either way, and the next install runs (real RAUC on a private D-Bus)."""

from __future__ import annotations

import asyncio

import pytest

from tests.component.update.env import install, upload, wait_until
from tests.rauc_env import rauc_available

pytestmark = pytest.mark.skipif(not rauc_available(), reason="RAUC is not installed")


async def next_install_runs(homei, name: str, headers) -> None:
    updates = homei.components.updates
    await wait_until(lambda: updates.rauc.operation == "idle")
    assert not updates.is_installing
    result = await install(homei, name, headers)
    assert result["task"].status == "completed", result["task"].error


async def test_an_install_cancelled_before_its_first_step_frees_the_turn(homei, device):
    headers = await homei.auth()
    bundle = await asyncio.to_thread(device.make_bundle, "2.0.0")
    name = (await upload(homei, bundle.path, headers))["name"]
    record = await homei.components.updates.install(name)
    # No await between accepting the install and cancelling it: its task never ran a step.
    cancelled = await homei.components.tasks.cancel(record.id)
    assert cancelled.status == "cancelled"
    await next_install_runs(homei, name, headers)


async def test_an_install_cancelled_midway_frees_the_turn(homei, device):
    headers = await homei.auth()
    bundle = await asyncio.to_thread(device.make_bundle, "2.0.0")
    name = (await upload(homei, bundle.path, headers))["name"]
    history = homei.components.updates.history
    reached, release = asyncio.Event(), asyncio.Event()
    begin = history.begin

    async def begin_then_wait(*args, **kwargs):
        entry = await begin(*args, **kwargs)
        reached.set()
        await release.wait()
        return entry

    history.begin = begin_then_wait
    started = await homei.client.post(
        "/api/v1/update/install", headers=headers, json={"bundle_path": name}
    )
    assert started.status == 202, await started.text()
    task_id = (await started.json())["taskId"]
    async with asyncio.timeout(30):
        await reached.wait()
    busy = await homei.client.post(
        "/api/v1/update/install", headers=headers, json={"bundle_path": name}
    )
    assert busy.status == 409
    response = await homei.client.delete(f"/api/v1/tasks/{task_id}", headers=headers)
    assert response.status == 200 and (await response.json())["status"] == "cancelled"
    history.begin = begin
    await next_install_runs(homei, name, headers)
