"""Scenario 7: the power is cut at random moments of an install. Every time the appliance
comes back on a slot that is marked good, and an install tried again afterwards succeeds.

HOMEI_QEMU_POWER_CUTS sets the number of trials (default 2), HOMEI_QEMU_SEED the random seed
(printed, so a failing run can be repeated)."""

from __future__ import annotations

import os
import random
import time
from functools import partial

import pytest

from tests.qemu.appliance import Appliance, wait_for
from tests.qemu.conftest import (
    VERDICT_DEADLINE,
    boot,
    grubenv,
    reboot_and_wait,
    slot,
    start_install,
    upload,
    wait_task,
)

POWER_CUTS = int(os.environ.get("HOMEI_QEMU_POWER_CUTS", "2"))
LATEST_CUT = 60.0  # seconds into RAUC's work; its install takes about 75 s under TCG


def rauc_is_installing(machine: Appliance, token: str, task_id: str) -> bool:
    """RAUC reports progress on the task (its status calls are refused while it installs)."""
    status, task = machine.request("GET", f"/api/v1/tasks/{task_id}", token=token)
    return status == 200 and task["status"] == "running" and task["progress"] > 0


@pytest.mark.timeout(900 + 900 * POWER_CUTS)
def test_power_cuts_during_an_install_always_boot_a_good_slot(appliance: Appliance, bundle):
    seed = int(os.environ.get("HOMEI_QEMU_SEED") or time.time())
    print(f"power cut seed: {seed} (HOMEI_QEMU_SEED)")
    rng = random.Random(seed)
    path = bundle("ota")
    token = boot(appliance, fresh=True)
    name = upload(appliance, token, path)  # on the data partition: it outlives the cuts

    for trial in range(POWER_CUTS):
        task_id = start_install(appliance, token, path, name)
        wait_for("RAUC installing", partial(rauc_is_installing, appliance, token, task_id), 300)
        # The random moment is the point of the test: somewhere in RAUC's work on the slot.
        time.sleep(rng.uniform(0.0, LATEST_CUT))
        status, task = appliance.request("GET", f"/api/v1/tasks/{task_id}", token=token)
        was_running = status == 200 and task["status"] == "running"
        appliance.power_cut()

        token = boot(appliance)  # waits for boot-complete.target: the gate let it pass
        status_now = wait_for("RAUC's status", partial(appliance.update_status, token), 120)
        booted = status_now["bootSlot"]
        assert slot(status_now, booted)["boot_status"] == "good", (trial, status_now)
        env = grubenv(appliance)
        assert env[f"{booted}_OK"] == "1" and env[f"{booted}_TRY"] == "0", (trial, env)
        if was_running:
            entry = status_now["history"][0]
            assert entry["taskId"] == task_id and entry["result"] == "interrupted", entry

    # A retried install goes through, and the slot it wrote boots and is kept.
    task = wait_task(appliance, token, start_install(appliance, token, path, name))
    target = task["result"]["slot"]
    reboot_and_wait(appliance)

    def verdict() -> dict | None:
        status = appliance.update_status(appliance.login())
        entry = status["history"][0] if status else None
        return status if entry and entry["result"] != "installed" else None

    entry = wait_for("the health gate's verdict", verdict, VERDICT_DEADLINE)["history"][0]
    assert entry["result"] == "good", entry
    # Read again: that answer's slots may predate the mark its history reports.
    status = appliance.update_status(appliance.login())
    assert status is not None
    assert status["bootSlot"] == target and status["version"] == "0.2.0", status
    assert slot(status, target)["boot_status"] == "good", status
