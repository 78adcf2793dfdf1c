"""The boot health gate against the real RAUC: it marks a new slot good or bad, records a
rollback done by the bootloader, and answers `homei update wait-gate`."""

from __future__ import annotations

import asyncio

import pytest

from homei.update.gate import GateSettings, GateVerdict, HealthGate
from tests.component.update.env import Reboots, install, upload, wait_until
from tests.conftest import clean_environ, homei_command
from tests.rauc_env import rauc_available

pytestmark = pytest.mark.skipif(not rauc_available(), reason="RAUC is not installed")


async def installed_and_rebooted(homei, device, boot_slot: str) -> None:
    headers = await homei.auth()
    bundle = await asyncio.to_thread(device.make_bundle, "4.0.0")
    stored = await upload(homei, bundle.path, headers)
    task = (await install(homei, stored["name"], headers))["task"]
    assert task.status == "completed", task.error
    # Play the reboot: RAUC comes back booted from the slot the bootloader chose.
    await asyncio.to_thread(device.restart_service, boot_slot)
    updates = homei.components.updates
    await wait_until(lambda: updates.is_available and updates.rauc.boot_slot == boot_slot)


def gate_for(homei, probe_url: str, reboots: Reboots, window: float = 5.0) -> HealthGate:
    return HealthGate(
        homei.components.updates,
        homei.components.events,
        probe_url,
        reboots,
        GateSettings(window=window, interval=0.1, passes=3, rauc_wait=10),
    )


async def test_gate_marks_a_healthy_boot_good(homei, device):
    await installed_and_rebooted(homei, device, "B")
    reboots = Reboots()
    url = str(homei.client.make_url("/health/ready"))
    verdict = await gate_for(homei, url, reboots).run()
    assert verdict is GateVerdict.GOOD and reboots.count == 0
    state = await asyncio.to_thread(device.bootloader_state)
    assert state["states"]["B"] == "good"
    entry = (await homei.components.updates.history.list())[0]
    assert entry.result == "good" and entry.verified


async def test_gate_marks_a_failing_boot_bad_and_reboots(homei, device):
    await installed_and_rebooted(homei, device, "B")
    reboots = Reboots()
    url = str(homei.client.make_url("/health/not-a-probe"))
    verdict = await gate_for(homei, url, reboots, window=1.0).run()
    assert verdict is GateVerdict.BAD and reboots.count == 1
    state = await asyncio.to_thread(device.bootloader_state)
    assert state["states"]["B"] == "bad"
    entry = (await homei.components.updates.history.list())[0]
    assert entry.result == "bad" and "failed the health gate" in entry.message
    # The "reboot": the bootloader skips the bad slot and boots A again.
    await asyncio.to_thread(device.restart_service)
    updates = homei.components.updates
    await wait_until(lambda: updates.is_available and updates.rauc.boot_slot == "A")


async def test_gate_records_a_rollback_by_the_bootloader(homei, device):
    await installed_and_rebooted(homei, device, "A")
    verdict = await gate_for(homei, "http://127.0.0.1:9/", Reboots()).run()
    assert verdict is GateVerdict.ROLLED_BACK
    entry = (await homei.components.updates.history.list())[0]
    assert entry.result == "rolled_back" and "fell back" in entry.message


async def test_nothing_to_judge_without_a_fresh_install(homei):
    assert await gate_for(homei, "http://127.0.0.1:9/", Reboots()).run() is None


async def wait_gate(url: str, timeout: float) -> tuple[int, str]:
    """`homei update wait-gate`, as homei-gate.service runs it; (exit code, output)."""
    process = await asyncio.create_subprocess_exec(
        *homei_command(),
        *("update", "wait-gate", "--url", url, "--timeout", str(timeout)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=clean_environ(XDG_CONFIG_HOME="/nonexistent"),
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_gate_verdict_is_open_and_wait_gate_passes_on_it(homei):
    await homei.components.gate.wait()
    response = await homei.client.get("/api/v1/update/gate")  # no token: like /health
    assert response.status == 200
    assert (await response.json())["state"] == "none"
    code, output = await wait_gate(str(homei.client.make_url("/")), 60)
    assert code == 0 and "none" in output, output


async def test_wait_gate_fails_when_nothing_answers(homei):
    code, output = await wait_gate("http://127.0.0.1:9", 2)
    assert code == 1 and "not complete" in output, output


async def test_gate_state_follows_its_verdict(homei, device):
    await installed_and_rebooted(homei, device, "B")
    gate = gate_for(homei, str(homei.client.make_url("/health/not-a-probe")), Reboots(), 1.0)
    assert gate.state == "checking"
    gate.start()
    assert await gate.wait() is GateVerdict.BAD
    assert gate.state == "bad"
