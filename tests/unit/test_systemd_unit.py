"""The unit systemd runs Homei with: valid, notify-typed, watchdogged, sandboxed."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, VENV_BIN

UNIT = ROOT / "systemd" / "homei.service"


def read_unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser


def test_systemd_analyze_verify_passes(tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: scripts/bootstrap dev installs systemd")
    # The unit names the device's path; point it at this checkout's entry point.
    unit = tmp_path / "homei.service"
    unit.write_text(UNIT.read_text().replace("/usr/bin/homei", str(VENV_BIN / "homei")))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    problems = [line for line in result.stderr.splitlines() if "homei.service" in line]
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


def test_unit_is_sandboxed():
    service = read_unit()["Service"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
    }.items():
        assert service[key] == value, key
    assert service["ReadWritePaths"] == "/var/lib/homei"
    assert service["StateDirectory"] == "homei"
