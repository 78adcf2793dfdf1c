"""The units systemd runs Homei with: valid, notify-typed, watchdogged, sandboxed, a crash
loop escalated to a reboot, and the boot health gate wired into boot-complete.target."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, VENV_BIN

UNIT = ROOT / "systemd" / "homei.service"
GATE = ROOT / "systemd" / "homei-gate.service"


def read_unit(path: Path = UNIT) -> configparser.ConfigParser:
    # Repeated keys (After=, ExecStart=) are joined, as systemd adds them up.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(_join_repeated(path.read_text()))
    return parser


def _join_repeated(text: str) -> str:
    lines: list[str] = []
    seen: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("["):
            seen = {}
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#") and key in seen:
            lines[seen[key]] += " " + value
            continue
        if sep and not line.startswith("#"):
            seen[key] = len(lines)
        lines.append(line)
    return "\n".join(lines)


def test_systemd_analyze_verify_passes(tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: scripts/bootstrap dev installs systemd")
    # The units name the device's path; point them at this checkout's entry point.
    units = []
    for source in (UNIT, GATE):
        unit = tmp_path / source.name
        unit.write_text(source.read_text().replace("/usr/bin/homei", str(VENV_BIN / "homei")))
        units.append(str(unit))
    result = subprocess.run(
        [analyze, "verify", *units], capture_output=True, text=True, timeout=60, check=False
    )
    problems = [line for line in result.stderr.splitlines() if "homei" in line]
    assert result.returncode == 0 and not problems, result.stderr


def test_unit_is_notify_with_watchdog_and_restart():
    service = read_unit()["Service"]
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] == "main"
    assert service["WatchdogSec"].endswith("s") and int(service["WatchdogSec"][:-1]) >= 5
    assert service["Restart"] == "on-failure"
    assert service["ExecStart"].split()[-1] == "serve"
    # The graceful stop (10 s at most) fits inside what systemd allows before SIGKILL.
    assert int(service["TimeoutStopSec"].rstrip("s")) > 10
    # A daemon too wedged to take SIGABRT is killed soon after the watchdog fires.
    assert service["TimeoutAbortSec"].endswith("s") and int(service["TimeoutAbortSec"][:-1]) <= 10


def test_unit_orders_after_docker_and_rauc_and_escalates_a_crash_loop():
    unit = read_unit()["Unit"]
    assert {"docker.service", "rauc.service"} <= set(unit["After"].split())
    assert "rauc.service" in unit["Wants"].split()
    # Enough failed starts reboot the device, so the bootloader counts the attempt.
    assert unit["StartLimitAction"] == "reboot"
    assert 2 <= int(unit["StartLimitBurst"]) <= 10
    assert unit["StartLimitIntervalSec"]


def test_gate_is_a_oneshot_required_by_boot_complete():
    gate = read_unit(GATE)
    assert gate["Service"]["Type"] == "oneshot"
    assert gate["Service"]["ExecStart"].split()[1:3] == ["update", "wait-gate"]
    assert "boot-complete.target" in gate["Unit"]["Before"].split()
    assert gate["Install"]["RequiredBy"] == "boot-complete.target"
    assert "homei.service" in gate["Unit"]["Requires"].split()
    assert "homei.service" in gate["Unit"]["After"].split()
    # It outwaits the gate's own window.
    assert int(gate["Service"]["TimeoutStartSec"].rstrip("s")) > int(
        gate["Service"]["ExecStart"].split("--timeout")[1].split()[0]
    )


def test_unit_is_sandboxed():
    service = read_unit()["Service"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelModules": "yes",
        "RestrictSUIDSGID": "yes",
    }.items():
        assert service[key] == value, key
    assert service["ReadWritePaths"].split() == ["/var/lib/homei", "-/var/lib/docker/volumes"]
    assert service["StateDirectory"] == "homei"
