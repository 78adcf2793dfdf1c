"""Homei stopped between the install and the reboot: the action is in SQLite, and the new
process reports it once its own boot health gate has decided. In process, the gate probes the
settings' listen address, where nothing serves: its verdict is `bad`, and that is what the
server must hear, with the gate's reason (the kept slot is covered in test_fleet_rollout)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

import pytest

from tests.component.fleet.conftest import fleet_toml
from tests.component.fleet.test_fleet_rollout import wait_state, wait_until
from tests.conftest import NO_DOCKER, RATE_LIMITS_OPEN
from tests.rauc_env import rauc_available

pytestmark = pytest.mark.skipif(not rauc_available(), reason="RAUC is not installed")


async def test_feedback_is_sent_after_the_restart_that_decides_it(
    device, server, make_homei, tmp_path
):
    toml = (
        RATE_LIMITS_OPEN
        + NO_DOCKER
        + f'[update]\ndbus_address = "{device.bus_address}"\n'
        + f'updates_dir = "{tmp_path / "updates"}"\n'
        + "gate_window = 1.0\ngate_interval = 0.2\ngate_passes = 3\nreboot_on_failure = false\n"
        + fleet_toml(server)
    )
    first = await make_homei(toml)
    await wait_until(lambda: first.components.updates.is_available)
    bundle = await asyncio.to_thread(device.make_bundle, "6.0.0")
    server.assign("31", bundle.path)
    await wait_state(first, "31", "installed")
    await first.client.close()  # Homei stops before anything final was said
    assert server.closed("31") is None
    await asyncio.to_thread(device.restart_service, "B")  # the reboot into the new slot
    second = await make_homei(toml)  # same data folder, same database
    await wait_until(lambda: server.closed("31") is not None, what="feedback")
    final = server.closed("31")["status"]
    assert final["execution"] == "closed" and final["result"]["finished"] == "failure"
    assert "failed the health gate" in final["details"][0]
    assert second.components.gate.state == "bad"
    assert [b for b in server.feedback_for("31") if b["status"]["execution"] == "closed"] == [
        server.closed("31")
    ]


async def test_an_install_cut_off_by_a_crash_is_settled_at_the_next_start(
    device, server, make_homei
):
    """What kill -9 leaves while RAUC installs: an action `installing` and its install's record
    still `installing`. The next start marks the record interrupted, and the action is closed
    as a failure with that reason instead of waiting forever."""
    toml = (
        RATE_LIMITS_OPEN
        + NO_DOCKER
        + f'[update]\ndbus_address = "{device.bus_address}"\nreboot_on_failure = false\n'
        + fleet_toml(server)
    )
    first = await make_homei(toml)
    database = first.settings.database_path
    await first.client.close()
    await asyncio.to_thread(_forge_cut_off_install, database, "41", "task-41")
    await make_homei(toml)  # the same data folder: the start after the crash
    await wait_until(lambda: server.closed("41") is not None, what="feedback")
    final = server.closed("41")["status"]
    assert final["execution"] == "closed" and final["result"]["finished"] == "failure"
    assert "stopped while RAUC was installing" in final["details"][0]


def _forge_cut_off_install(database, action_id: str, task_id: str) -> None:
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.execute(
            "INSERT INTO fleet_actions (id, kind, state, version, task_id, message, created,"
            " updated) VALUES (?, 'deployment', 'installing', '7.0.0', ?, 'Installing 7.0.0',"
            " '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            (action_id, task_id),
        )
        db.execute(
            "INSERT INTO update_history (task_id, bundle, from_slot, result, started)"
            " VALUES (?, 'fleet-7.0.0.raucb', 'A', 'installing', '2026-01-01T00:00:00Z')",
            (task_id,),
        )
