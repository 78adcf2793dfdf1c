"""The QEMU tier: the whole appliance (GRUB, kernel, systemd, RAUC, Homei) booted under TCG.

The image and the bundles are built once per session by qemu/build-image, which caches its
expensive steps under var/qemu (or $HOMEI_QEMU_DIR). Every scenario boots its own copy of the
freshly built disk, so none depends on another's leftovers. The figures measured on the way
(build, boot, READY, install to marked good) are printed at the end of the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.qemu.appliance import Appliance, wait_for

BUILD = Path(os.environ.get("HOMEI_QEMU_DIR") or ROOT / "var" / "qemu")
COMPATIBLE = "homei-qemu-x86_64"  # rauc/system.conf.qemu
# Deadlines under TCG, measured on a 2-core machine without KVM and then doubled or more.
BOOT_DEADLINE = 300.0  # power-on (or reboot) to Homei's API answering
INSTALL_DEADLINE = 600.0  # upload and RAUC install of a bundle
VERDICT_DEADLINE = 600.0  # reboot into a new slot to the health gate's verdict
# The bundles the scenarios install: variant of the root filesystem and Homei's version.
BUNDLES = {
    "ota": ("good", "0.2.0"),
    "bad-gate": ("bad-gate", "0.2.0+bad-gate"),
    "broken-unit": ("broken-unit", "0.2.0+broken-unit"),
}

FIGURES: dict[str, str] = {}
# The tier takes about half an hour under TCG and runs with the rest of the suite; a quick
# local run may leave it out with HOMEI_QEMU_TESTS=0.
SKIPPED = os.environ.get("HOMEI_QEMU_TESTS") == "0"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not SKIPPED:
        return
    skip = pytest.mark.skip(reason="HOMEI_QEMU_TESTS=0 leaves the QEMU tier out")
    for item in items:  # this hook sees the whole session's items, not only this folder's
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)


def record(name: str, seconds: float) -> None:
    """Keep a measured figure for the summary at the end of the run."""
    FIGURES[name] = f"{seconds:.0f} s"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("QEMU appliance figures (TCG)")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")


def _run(command: list[str], what: str, timeout: float) -> None:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"{what} failed ({result.returncode}):\n{result.stderr[-4000:]}")


@pytest.fixture(scope="session")
def image() -> Path:
    """The appliance's disk image, built (or found current) by qemu/build-image."""
    for tool in ("qemu-system-x86_64", "debootstrap", "grub-mkstandalone", "mcopy", "rauc"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: scripts/bootstrap dev installs the QEMU tier's tools")
    started = time.monotonic()
    _run([str(ROOT / "qemu" / "build-image")], "qemu/build-image", 3000)
    record("image build (cold with an empty var/qemu, else warm)", time.monotonic() - started)
    return BUILD / "disk.img"


@pytest.fixture(scope="session")
def bundle(image: Path) -> Callable[[str], Path]:
    """`bundle(name)`: a signed verity bundle of one of BUNDLES, built on first use."""

    def build(name: str) -> Path:
        variant, version = BUNDLES[name]
        rootfs = BUILD / f"{name}.ext4"
        output = BUILD / "bundles" / f"{name}.raucb"
        _run(
            [
                str(ROOT / "qemu" / "build-image"),
                *("--rootfs", name, "--variant", variant, "--version", version),
            ],
            f"the {name} root filesystem",
            1800,
        )
        if output.exists() and output.stat().st_mtime > rootfs.stat().st_mtime:
            return output
        output.parent.mkdir(exist_ok=True)
        partial = output.with_suffix(".part.raucb")
        pki = BUILD / "pki"
        _run(
            [
                str(ROOT / "rauc" / "build-bundle.sh"),
                *("--image", str(rootfs), "--compatible", COMPATIBLE, "--version", version),
                *("--cert", str(pki / "signing.cert.pem"), "--key", str(pki / "signing.key.pem")),
                *("--keyring", str(pki / "ca.cert.pem"), "--format", "verity"),
                *("--output", str(partial), "--description", f"Homei {version} ({variant})"),
            ],
            f"the {name} bundle",
            1200,
        )
        partial.rename(output)  # only a whole bundle is ever taken as built
        return output

    return build


@pytest.fixture
def appliance(image: Path, tmp_path: Path) -> Iterator[Appliance]:
    """A machine of its own, powered off; its power is cut at the end of the test."""
    machine = Appliance(tmp_path / "run")
    yield machine
    machine.power_cut()


def boot(machine: Appliance, *, fresh: bool = False) -> str:
    """Power on, wait for the API and for the boot to be complete; an admin token."""
    machine.power_on(fresh=fresh)
    machine.wait_api(BOOT_DEADLINE)
    wait_boot_complete(machine)
    return machine.login()


def wait_boot_complete(machine: Appliance) -> None:
    """Wait until boot-complete.target is reached (Homei's health gate let the boot pass) and
    rauc-mark-good.service, ordered after it, has marked the booted slot good: until then a
    slot booted again without an install still has its attempt counted (`_TRY=1`), and RAUC
    rightly reports it as not good yet."""
    wait_for(
        "boot-complete.target and rauc-mark-good.service",
        lambda: (
            machine.try_run("systemctl is-active boot-complete.target rauc-mark-good.service")
            == "active\nactive\n"
        ),
        BOOT_DEADLINE,
    )


def reboot_and_wait(machine: Appliance, boots: int = 1) -> None:
    """Reboot the guest; wait until the kernel started `boots` times and the API answers."""
    mark = machine.console_size()
    machine.try_run("systemctl reboot", timeout=30)
    wait_for(
        f"{boots} boot(s)",
        lambda: machine.assert_running() or machine.boots_since(mark) >= boots,
        BOOT_DEADLINE * boots,
    )
    machine.wait_api(BOOT_DEADLINE)


def upload_and_install(machine: Appliance, token: str, path: Path) -> dict[str, Any]:
    """Upload a bundle through the API and install it; the finished task."""
    task_id = start_install(machine, token, path)
    return wait_task(machine, token, task_id)


def upload(machine: Appliance, token: str, path: Path) -> str:
    """Stream a bundle to the device's updates directory; its name there."""
    with path.open("rb") as handle:
        status, body = machine.request(
            "POST",
            f"/api/v1/update/bundles?filename={path.name}",
            token=token,
            data=handle,
            timeout=INSTALL_DEADLINE,
        )
    assert status == 201, body
    return str(body["name"])


def start_install(machine: Appliance, token: str, path: Path, name: str | None = None) -> str:
    """Start installing a bundle (uploading it first unless `name` is on the device)."""
    name = name or upload(machine, token, path)
    status, body = machine.request(
        "POST", "/api/v1/update/install", {"bundle_path": name}, token=token
    )
    assert status == 202, body
    return str(body["taskId"])


def wait_task(machine: Appliance, token: str, task_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        status, task = machine.request("GET", f"/api/v1/tasks/{task_id}", token=token)
        assert status == 200, task
        return task if task["status"] in ("completed", "failed", "cancelled") else None

    task = wait_for("the install task", finished, INSTALL_DEADLINE)
    assert task["status"] == "completed", task
    return task


def slot(status: dict[str, Any], bootname: str) -> dict[str, Any]:
    """The slot with that bootname in an `/update/status` answer."""
    return next(s for s in status["slots"] if s["bootname"] == bootname)


def grubenv(machine: Appliance) -> dict[str, str]:
    """GRUB's environment on the ESP, as RAUC's grub backend keeps it."""
    text = machine.run("grub-editenv /boot/efi/EFI/BOOT/grubenv list")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
