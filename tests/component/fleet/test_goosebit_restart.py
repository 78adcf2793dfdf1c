"""Homei killed (SIGKILL) between the install and its final feedback: after the reboot the
restarted daemon's own health gate decides, and the `success` gooseBit waits for is sent
then, from the action kept in SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.component.fleet.conftest import needs_rauc
from tests.component.fleet.test_goosebit_rollouts import TIMEOUT, eventually, offer
from tests.component.update.env import wait_until
from tests.daemon_process import HomeiProcess, start_homei
from tests.goosebit_env import TENANT, GooseBit, GooseBitClient
from tests.rauc_env import RaucDevice

pytest.importorskip("homei.fleet.deploy", reason="the fleet client is not built yet")

pytestmark = needs_rauc


def start(tmp_path: Path, rauc: RaucDevice, goosebit: GooseBit, device_id: str) -> HomeiProcess:
    return start_homei(
        tmp_path,
        HOMEI_UPDATE__DBUS_ADDRESS=rauc.bus_address,
        HOMEI_UPDATE__UPDATES_DIR=str(tmp_path / "updates"),
        HOMEI_UPDATE__GATE_INTERVAL="0.2",
        HOMEI_UPDATE__GATE_PASSES="2",
        HOMEI_UPDATE__REBOOT_ON_FAILURE="false",
        HOMEI_FLEET__ENABLED="true",
        HOMEI_FLEET__URL=goosebit.url,
        HOMEI_FLEET__TENANT=TENANT,
        HOMEI_FLEET__CONTROLLER_ID=device_id,
        HOMEI_FLEET__POLL_MIN="0.2",
    )


async def test_feedback_is_sent_after_a_kill_and_the_reboot(
    device: RaucDevice, goosebit_client: GooseBitClient, goosebit: GooseBit,
    device_id: str, tmp_path: Path,
) -> None:  # fmt: skip
    await offer(goosebit_client, device, device_id, "2.4.0")
    first = await asyncio.to_thread(start, tmp_path, device, goosebit, device_id)
    try:
        token = await asyncio.to_thread(first.login)

        def installed() -> bool:
            status, body = first.request("GET", "/api/v1/fleet", token=token)
            assert status == 200, body
            action = body.get("action") or {}
            return bool(action.get("state") == "installed")

        # Installed (the task done), the final feedback still owed: kill it now.
        await wait_until(installed, TIMEOUT)
    finally:
        first.process.kill()  # no chance to say anything more
        await asyncio.to_thread(first.process.wait, 15)
        first.notify.close()
    assert (await goosebit_client.device(device_id))["last_state"] == "Running"

    await asyncio.to_thread(device.restart_service, "B")  # the reboot into the new slot
    second = await asyncio.to_thread(start, tmp_path, device, goosebit, device_id)
    try:
        done = await eventually(
            lambda: goosebit_client.device(device_id),
            lambda d: d and d["last_state"] == "Finished",
            "gooseBit to hear success after the restart",
        )
        assert done["sw_version"] == "2.4.0", second.log()[-3000:]
        state = await asyncio.to_thread(device.bootloader_state)
        assert state["booted"] == "B" and state["states"]["B"] == "good"
    finally:
        await asyncio.to_thread(second.stop)
