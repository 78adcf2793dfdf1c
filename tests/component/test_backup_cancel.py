"""Cancelling backups and restores, before their task's first step and midway: whatever the
moment, the one-at-a-time turn is given back and the next backup or restore runs."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from homei.backup.manager import BackupBusy, BackupRequest
from tests.component.test_backup_engine import Engine, damage, engine, state_of

__all__ = ["engine"]  # the fixture, shared with the engine's own tests


class Gate:
    """Holds a task at one point of its work until the test lets it go."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def stop_here(self) -> None:
        self.reached.set()
        await self.release.wait()

    async def wait_reached(self) -> None:
        async with asyncio.timeout(30):
            await self.reached.wait()


def hold_in_quiesce(engine: Engine) -> Gate:
    """Make the next backup stop, its service quiesced, until the gate is released."""
    gate = Gate()
    original = engine.services.quiesced

    @contextlib.asynccontextmanager
    async def quiesce_then_wait(name, mode):
        async with original(name, mode):
            await gate.stop_here()
            yield

    engine.services.quiesced = quiesce_then_wait
    return gate


async def cancel(engine: Engine, task_id: str) -> None:
    record = await engine.homei.components.tasks.cancel(task_id)
    assert record.status == "cancelled"


async def next_backup_runs(engine: Engine) -> str:
    """The turn is free at once (no 409) and a backup completes."""
    assert not engine.manager.is_busy
    return (await engine.create())["name"]


def leftovers(engine: Engine) -> list[str]:
    return sorted(p.name for p in engine.catalog.directory.iterdir() if p.name.startswith("."))


async def test_a_backup_cancelled_before_its_first_step_frees_the_turn(engine: Engine):
    record = await engine.manager.create(BackupRequest())
    # No await between accepting the backup and cancelling it: its task never ran a step.
    await cancel(engine, record.id)
    assert (await engine.homei.components.tasks.get(record.id)).status == "cancelled"
    await next_backup_runs(engine)


async def test_a_backup_cancelled_midway_frees_the_turn_and_resumes_services(engine: Engine):
    original = engine.services.quiesced
    gate = hold_in_quiesce(engine)
    record = await engine.manager.create(BackupRequest())
    await gate.wait_reached()
    assert engine.services.state["app"] == "stopped"
    with pytest.raises(BackupBusy):
        await engine.manager.create(BackupRequest())
    await cancel(engine, record.id)
    assert engine.services.state == {"app": "running", "db": "running"}
    assert leftovers(engine) == [] and await engine.manager.list() == []
    engine.services.quiesced = original
    await next_backup_runs(engine)


async def test_a_restore_cancelled_before_its_first_step_frees_the_turn(engine: Engine):
    name = (await engine.create())["name"]
    record = await engine.manager.restore(name)
    await cancel(engine, record.id)
    task = await engine.restore(name)
    assert task.status == "completed", task.error


async def test_a_restore_cancelled_midway_changes_nothing_and_frees_the_turn(engine: Engine):
    before = await asyncio.to_thread(state_of, engine)
    name = (await engine.create())["name"]
    await damage(engine)
    damaged = await asyncio.to_thread(state_of, engine)
    gate = Gate()
    original = engine.services.stopped

    @contextlib.asynccontextmanager
    async def stop_then_wait(names):
        async with original(names):
            await gate.stop_here()
            yield

    engine.services.stopped = stop_then_wait
    record = await engine.manager.restore(name)
    await gate.wait_reached()
    await cancel(engine, record.id)
    assert await asyncio.to_thread(state_of, engine) == damaged
    assert engine.services.state == {"app": "running", "db": "running"}
    assert leftovers(engine) == []
    engine.services.stopped = original
    task = await engine.restore(name)
    assert task.status == "completed", task.error
    assert await asyncio.to_thread(state_of, engine) == before


async def test_a_backup_task_cancelled_through_the_api_frees_the_turn(homei):
    """The daemon's own manager, over HTTP: create, cancel at once, create again."""
    headers = await homei.auth()
    for _ in range(3):
        created = await homei.client.post(
            "/api/v1/backups", headers=headers, json={"type": "partial", "homei": True}
        )
        assert created.status == 202, await created.text()
        task_id = (await created.json())["taskId"]
        response = await homei.client.delete(f"/api/v1/tasks/{task_id}", headers=headers)
        # Cancelled (or already finished) and deleted: either way the turn is free again.
        assert response.status == 200, await response.text()
        gone = await homei.client.get(f"/api/v1/tasks/{task_id}", headers=headers)
        assert gone.status == 404
        assert not homei.components.backups.is_busy
    created = await homei.client.post(
        "/api/v1/backups", headers=headers, json={"type": "partial", "homei": True}
    )
    assert created.status == 202, await created.text()
    done = await homei.components.tasks.wait((await created.json())["taskId"])
    assert done.status == "completed", done.error


async def test_a_generic_backup_task_cancelled_midway_frees_the_turn(engine: Engine):
    """`POST /api/v1/tasks {"type": "backup"}` takes the turn inside its task."""
    tasks = engine.homei.components.tasks
    original = engine.services.quiesced
    gate = hold_in_quiesce(engine)
    record = await tasks.create("backup", params={"name": "generic"})
    await gate.wait_reached()
    assert engine.manager.is_busy
    with pytest.raises(BackupBusy):
        await engine.manager.create(BackupRequest())
    await cancel(engine, record.id)
    assert engine.services.state == {"app": "running", "db": "running"}
    engine.services.quiesced = original
    await next_backup_runs(engine)
