"""Scenarios 2, 3 and 4: an update over the API is kept when its Homei passes the health
gate; it is rolled back when Homei rejects it, and when Homei never comes up at all."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.qemu.appliance import BANNER, Appliance, wait_for
from tests.qemu.conftest import (
    BOOT_DEADLINE,
    VERDICT_DEADLINE,
    boot,
    grubenv,
    reboot_and_wait,
    record,
    slot,
    upload_and_install,
    wait_boot_complete,
)

pytestmark = pytest.mark.timeout(3600)  # a cold build of the image and the bundle comes first


@pytest.fixture(scope="module")
def machine(image: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    """One appliance for the three scenarios, in order: each installs into the slot it
    does not run from, so they need no fresh disk (a failed one leaves a usable machine)."""
    machine = Appliance(tmp_path_factory.mktemp("qemu-updates") / "run")
    yield machine
    machine.power_cut()


def install_into_other(
    machine: Appliance, bundle: Callable[[str], Path], name: str
) -> tuple[str, str, float]:
    """Install bundle `name` through the API into the slot not booted; (booted, target,
    when its upload began)."""
    path = bundle(name)
    if machine.process is None or machine.process.poll() is not None:
        token = boot(machine, fresh=True)
    else:
        wait_boot_complete(machine)
        token = machine.login()
    status = machine.update_status(token)
    assert status is not None
    booted = status["bootSlot"]
    target = "B" if booted == "A" else "A"
    started = time.monotonic()
    task = upload_and_install(machine, token, path)
    record(f"upload and install of the {name} bundle", time.monotonic() - started)
    assert task["result"]["slot"] == target, task
    status = machine.update_status(token)
    assert status is not None and status["primary"] == slot(status, target)["name"], status
    env = grubenv(machine)
    assert env["ORDER"].split()[0] == target, env
    assert env[f"{target}_OK"] == "1" and env[f"{target}_TRY"] == "0", env
    return booted, target, started


def newest(machine: Appliance, token: str) -> dict[str, Any] | None:
    status = machine.update_status(token)
    return status["history"][0] if status and status["history"] else None


def kernel_lines(machine: Appliance, since: int) -> list[str]:
    """The slot of every boot since console offset `since`, from the kernel command lines."""
    return re.findall(r"Command line: .*rauc\.slot=(\w)", machine.console_text(since))


def test_ota_update_is_installed_booted_and_kept(machine: Appliance, bundle):
    _, target, uploaded_at = install_into_other(machine, bundle, "ota")
    installed_at = time.monotonic()
    reboot_and_wait(machine)
    entry = wait_for(
        "the health gate's verdict",
        lambda: (e := newest(machine, machine.login())) and e["result"] != "installed" and e,
        VERDICT_DEADLINE,
    )
    record("reboot into the new slot to marked good", time.monotonic() - installed_at)
    record("upload of the bundle to the new slot marked good", time.monotonic() - uploaded_at)
    assert entry["result"] == "good", entry
    assert entry["to_version"] == "0.2.0" and entry["to_slot"] == target, entry
    assert "passed the health gate" in entry["message"], entry

    token = machine.login()
    status = machine.update_status(token)
    assert status is not None
    assert status["bootSlot"] == target and status["version"] == "0.2.0", status
    assert slot(status, target)["boot_status"] == "good", status
    assert slot(status, target)["bundle_version"] == "0.2.0", status
    env = grubenv(machine)
    assert env[f"{target}_OK"] == "1" and env[f"{target}_TRY"] == "0", env
    wait_boot_complete(machine)


def test_update_failing_the_health_gate_is_rolled_back(machine: Appliance, bundle):
    booted, target, _ = install_into_other(machine, bundle, "bad-gate")
    version = machine.update_status(machine.login())["version"]
    mark = machine.console_size()
    # Into the new slot, where Homei finds Docker missing and marks it bad, then back.
    reboot_and_wait(machine, boots=2)
    assert kernel_lines(machine, mark) == [target, booted], machine.console_text(mark)[-3000:]
    wait_boot_complete(machine)
    token = machine.login()
    status = machine.update_status(token)
    assert status is not None
    assert status["bootSlot"] == booted and status["version"] == version, status
    assert slot(status, booted)["boot_status"] == "good", status
    assert slot(status, target)["boot_status"] == "bad", status
    entry = status["history"][0]
    assert entry["result"] == "bad" and entry["to_slot"] == target, entry
    assert "failed the health gate" in entry["message"], entry
    assert "docker" in entry["message"].lower(), entry


def test_update_that_never_brings_homei_up_is_rolled_back_by_grub(machine: Appliance, bundle):
    booted, target, _ = install_into_other(machine, bundle, "broken-unit")
    mark = machine.console_size()
    # Homei's unit fails in the new slot until its start limit reboots the machine; GRUB
    # sees that slot tried and never confirmed, and starts the other one.
    reboot_and_wait(machine, boots=2)
    assert kernel_lines(machine, mark) == [target, booted], machine.console_text(mark)[-3000:]
    assert machine.console_text(mark).count(BANNER) == 2
    wait_boot_complete(machine)
    token = machine.login()
    status = machine.update_status(token)
    assert status is not None
    assert status["bootSlot"] == booted, status
    assert slot(status, booted)["boot_status"] == "good", status
    env = grubenv(machine)
    # The new slot kept its attempt: it was tried and nobody marked it good.
    assert env[f"{target}_TRY"] == "1" and env[f"{booted}_TRY"] == "0", env
    entry = wait_for(
        "the rollback in the history",
        lambda: (e := newest(machine, token)) and e["result"] != "installed" and e,
        BOOT_DEADLINE,
    )
    assert entry["result"] == "rolled_back" and entry["to_slot"] == target, entry
    assert "fell back" in entry["message"], entry
