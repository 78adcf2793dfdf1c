"""The RAUC test harness (tests/rauc_env.py) against the real `rauc service` on a private bus."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.rauc_env import BUS_NAME, INTERFACE, OBJECT_PATH, RaucDevice, rauc_available

pytestmark = pytest.mark.skipif(
    not rauc_available(), reason="rauc is not installed (apt-get install rauc squashfs-tools)"
)


@pytest.fixture
def device(tmp_path):
    rauc = RaucDevice(tmp_path / "dev").up()
    yield rauc
    rauc.down()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def slots(status: dict) -> dict[str, dict]:
    """{"A": {...}, "B": {...}} from `rauc status --output-format=json`'s list of slots."""
    return {v["bootname"]: v for entry in status["slots"] for v in entry.values()}


def rauc_cli(device: RaucDevice, *args: str) -> subprocess.CompletedProcess[str]:
    """The plain `rauc` client, reaching the service only through DBUS_SYSTEM_BUS_ADDRESS."""
    return subprocess.run(
        ["rauc", *args], env=device.env(), capture_output=True, text=True, timeout=30, check=False
    )


def test_fresh_device_boots_slot_a(device):
    result = rauc_cli(device, "status", "--output-format=json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["compatible"] == "homei-dev"
    assert status["booted"] == "A"
    assert status["boot_primary"] == "rootfs.0"
    by_name = slots(status)
    assert by_name["A"]["state"] == "booted"
    assert by_name["B"]["state"] == "inactive"
    assert by_name["B"]["device"] == str(device.slot_image("B"))
    assert device.bootloader_state() == {
        "primary": "A",
        "states": {"A": "good", "B": "good"},
        "booted": "A",
    }


def test_installer_interface_on_the_bus(device):
    introspection = subprocess.run(
        [
            "dbus-send",
            f"--bus={device.bus_address}",
            "--print-reply",
            f"--dest={BUS_NAME}",
            OBJECT_PATH,
            "org.freedesktop.DBus.Introspectable.Introspect",
        ],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    assert f'<interface name="{INTERFACE}">' in introspection
    for member in (
        "InstallBundle",
        "Mark",
        "GetSlotStatus",
        "GetPrimary",
        "Completed",
        "Operation",
        "LastError",
        "Progress",
        "Compatible",
        "BootSlot",
    ):
        assert f'name="{member}"' in introspection


def test_good_bundle_installs_into_slot_b_and_reboots_into_it(device):
    slot_a = sha256(device.slot_image("A"))
    bundle = device.make_bundle("1.1")

    result = rauc_cli(device, "install", str(bundle))

    assert result.returncode == 0, result.stdout + result.stderr + device.log_tail()
    image = bundle.image.read_bytes()
    with device.slot_image("B").open("rb") as slot_b:
        assert slot_b.read(len(image)) == image
    assert sha256(device.slot_image("A")) == slot_a
    assert device.bootloader_state()["primary"] == "B"
    assert device.bootloader_state()["states"]["B"] == "good"
    status = device.status()
    assert status["booted"] == "A"
    assert status["boot_primary"] == "rootfs.1"
    installed = slots(status)["B"]["slot_status"]
    assert installed["bundle"]["version"] == "1.1"
    assert installed["checksum"]["sha256"] == hashlib.sha256(image).hexdigest()

    calls = (device.dir / "boot" / "calls.log").read_text().splitlines()
    assert [call.split(" ", 1)[1] for call in calls] == ["set-state B bad", "set-primary B"]

    device.restart_service("B")
    assert device.status()["booted"] == "B"
    assert device.bootloader_state()["booted"] == "B"

    # A slot marked bad is skipped at the next boot, as GRUB or NVIDIA's UEFI would.
    device.rauc("status", "mark-bad", "booted")
    device.restart_service()
    assert device.status()["booted"] == "A"


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (
            {"compatible": "homei-other"},
            "Compatible mismatch: Expected 'homei-dev' but bundle manifest has 'homei-other'",
        ),
        ({"signer": "other"}, "unable to get local issuer certificate"),
        ({"unsigned": True}, "Signature size is 0"),
        ({"corrupt": True}, "signature verification failed"),
        ({"truncated": True}, "Invalid bundle format"),
    ],
    ids=["wrong-compatible", "other-ca", "unsigned", "corrupt", "truncated"],
)
def test_rejected_bundle_leaves_slots_untouched(device, kind, reason):
    images = {slot: sha256(device.slot_image(slot)) for slot in ("A", "B")}
    bootloader = device.bootloader_state()
    status = device.status()
    bundle = device.make_bundle("6.6.6", **kind)

    result = rauc_cli(device, "install", str(bundle))

    assert result.returncode != 0
    assert reason in result.stdout + result.stderr, result.stdout + result.stderr
    assert {slot: sha256(device.slot_image(slot)) for slot in ("A", "B")} == images
    assert device.bootloader_state() == bootloader
    assert not (device.dir / "boot" / "calls.log").exists()  # no set-primary, no set-state
    assert device.status() == status


def test_killed_service_leaves_the_bus_and_comes_back(device):
    device.kill_service()
    assert not device.name_has_owner()
    assert rauc_cli(device, "status").returncode != 0

    device.up()
    assert device.name_has_owner()
    assert device.status()["booted"] == "A"
