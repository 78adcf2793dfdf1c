"""A rollout from the DDI server through Homei's own update path, against the real RAUC:
`success` only once the boot health gate kept the new slot, `failure` with RAUC's or the
gate's reason, and a download cut midway resumed."""

from __future__ import annotations

import asyncio

import pytest

from homei.update.gate import GateSettings, GateVerdict, HealthGate
from tests.component.update.env import Reboots
from tests.component.update.env import wait_until as wait_briefly
from tests.rauc_env import rauc_available


async def wait_until(condition, timeout: float = 120.0, what: str = "condition") -> None:
    """Generous: the machine is shared, and RAUC installs take their time under load."""
    await wait_briefly(condition, timeout, what)


pytestmark = pytest.mark.skipif(not rauc_available(), reason="RAUC is not installed")


async def action_state(homei, action_id: str) -> str | None:
    action = await homei.components.fleet.actions.get(action_id)
    return str(action.state) if action else None


async def wait_state(homei, action_id: str, state: str, timeout: float = 120.0) -> None:
    async with asyncio.timeout(timeout):
        while await action_state(homei, action_id) != state:
            await asyncio.sleep(0.05)


async def reboot_into(homei, device, slot: str) -> None:
    await asyncio.to_thread(device.restart_service, slot)
    updates = homei.components.updates
    await wait_until(lambda: updates.is_available and updates.rauc.boot_slot == slot)


def gate_for(homei, path: str, window: float = 5.0) -> HealthGate:
    return HealthGate(
        homei.components.updates,
        homei.components.events,
        str(homei.client.make_url(path)),
        Reboots(),
        GateSettings(window=window, interval=0.1, passes=3, rauc_wait=10),
    )


async def test_success_is_reported_only_after_the_gate_keeps_the_slot(homei, device, server):
    # Sent when asked, and again once RAUC answers with the compatible and the booted slot.
    await wait_until(lambda: any("boot_slot" in c["data"] for c in server.config_data))
    sent = next(c for c in server.config_data if "boot_slot" in c["data"])
    assert sent["mode"] == "merge" and sent["data"]["compatible"] and sent["data"]["boot_slot"]
    assert sent["data"]["homei_version"] and sent["data"]["hw_model"]
    config_count = len(server.config_data)
    bundle = await asyncio.to_thread(device.make_bundle, "4.0.0")
    server.assign("11", bundle.path)
    half = server.action["size"] // 2
    server.cut_after = half  # the first transfer is lost midway and resumed
    await wait_state(homei, "11", "installed")
    # Resumed where the bytes on disk end (what reached the client before the cut).
    assert server.downloads[0] is None and len(server.downloads) == 2
    resumed_at = int(server.downloads[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= half
    progress = [b["status"] for b in server.feedback_for("11")]
    assert all(s["execution"] == "proceeding" for s in progress)
    assert any(s["result"].get("progress", {}).get("cnt") == 100 for s in progress)
    # Installed, not yet booted and checked: nothing final may have been said.
    polls = server.polls
    await wait_until(lambda: server.polls >= polls + 3, what="three more polls")
    assert server.closed("11") is None
    await reboot_into(homei, device, "B")
    assert await gate_for(homei, "/health/ready").run() is GateVerdict.GOOD
    homei.components.fleet.poll_now()
    await wait_until(lambda: server.closed("11") is not None, what="closed feedback")
    final = server.closed("11")["status"]
    assert final["execution"] == "closed" and final["result"]["finished"] == "success"
    assert await action_state(homei, "11") == "succeeded"
    # The verdict changed what the device runs: fresh config data follows. (Config data sent
    # after the install but before the reboot still names slot A, so wait for slot B's.)
    await wait_until(
        lambda: any(c["data"].get("boot_slot") == "B" for c in server.config_data[config_count:]),
        what="fresh config data naming slot B",
    )


async def test_a_slot_the_gate_rejects_is_reported_as_failure(homei, device, server):
    bundle = await asyncio.to_thread(device.make_bundle, "4.0.1")
    server.assign("12", bundle.path)
    await wait_state(homei, "12", "installed")
    await reboot_into(homei, device, "B")
    assert await gate_for(homei, "/health/not-a-probe", 1.0).run() is GateVerdict.BAD
    homei.components.fleet.poll_now()
    await wait_until(lambda: server.closed("12") is not None, what="closed feedback")
    final = server.closed("12")["status"]
    assert final["result"]["finished"] == "failure"
    assert "failed the health gate" in final["details"][0]


async def test_a_bundle_rauc_refuses_is_reported_with_raucs_reason(homei, device, server):
    bundle = await asyncio.to_thread(device.make_bundle, "4.0.2", signer="other")
    server.assign("13", bundle.path)
    await wait_until(lambda: server.closed("13") is not None, what="closed")
    final = server.closed("13")["status"]
    assert final["result"]["finished"] == "failure"
    assert "issuer certificate" in final["details"][0], final
    entry = (await homei.components.updates.history.list())[0]
    assert entry.result == "failed" and entry.to_slot is None


async def test_a_wrong_checksum_is_refused_and_the_file_deleted(homei, device, server):
    bundle = await asyncio.to_thread(device.make_bundle, "4.0.3")
    server.assign("14", bundle.path, sha256="0" * 64)
    await wait_until(lambda: server.closed("14") is not None, what="closed feedback")
    final = server.closed("14")["status"]
    assert final["result"]["finished"] == "failure"
    assert "rejected" in final["details"][0]
    updates_dir = homei.components.updates.bundles.directory
    assert not [p for p in updates_dir.iterdir() if "fleet-14" in p.name]
    assert (await homei.components.updates.history.list()) == []
