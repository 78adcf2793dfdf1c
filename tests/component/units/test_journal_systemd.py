"""A systemd service's logs through `homei serve`, read from the journal of a real systemd
(booted as PID 1 in a container, its journal folder bind-mounted to the host)."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_process import HomeiProcess, start_homei
from tests.processes import wait_for
from tests.systemd_env import SystemdContainer

TICKER = """#!/bin/sh
echo "ticker up"
n=0
while true; do n=$((n+1)); echo "tick $n"; sleep 0.2; done
"""


@pytest.fixture(scope="module")
def box(systemd: SystemdContainer, shared_dir: Path) -> Iterator[SystemdContainer]:
    """The session's systemd, with the ticker program in the shared folder; the unit this
    module makes is removed after it."""
    program = shared_dir / "ticker"
    program.write_text(TICKER)
    program.chmod(0o755)
    yield systemd
    systemd.systemctl("disable", "--now", "homei-svc-ticker.service", check=False)
    (systemd.unit_dir / "homei-svc-ticker.service").unlink(missing_ok=True)
    systemd.systemctl("daemon-reload")


@pytest.fixture(scope="module")
def shared(box: SystemdContainer, shared_dir: Path) -> Path:
    return shared_dir


@pytest.fixture(scope="module")
def homei(
    tmp_path_factory: pytest.TempPathFactory, box: SystemdContainer, shared: Path
) -> Iterator[tuple[HomeiProcess, str]]:
    where = tmp_path_factory.mktemp("homei")
    (where / "none.toml").write_text(
        "[units]\n"
        f'dbus_address = "{box.bus_address}"\n'
        f'unit_dir = "{box.unit_dir}"\n'
        f'journal_dir = "{box.journal_dir}"\n'
        f'exec_roots = ["{shared}"]\n'
    )
    daemon = start_homei(
        where,
        HOMEI_RATE_LIMITS__ENABLED="false",
        HOMEI_DOCKER__URL=box.engine.host,
    )
    try:
        yield daemon, daemon.login()
    finally:
        daemon.stop()


def _service_logs(homei: tuple[HomeiProcess, str], name: str) -> list[str]:
    daemon, token = homei
    status, body = daemon.request("GET", f"/api/v1/services/{name}/logs?tail=50", token=token)
    assert status == 200, body
    return [entry["message"] for entry in body["logs"]]


def test_a_systemd_services_logs_and_follow_come_from_its_journal(
    homei: tuple[HomeiProcess, str], box: SystemdContainer, shared: Path
) -> None:
    daemon, token = homei
    body = {"name": "ticker", "runtime": "systemd", "exec": str(shared / "ticker")}
    status, answer = daemon.request("POST", "/api/v1/services", body, token=token)
    assert status == 202, answer
    wait_for(
        lambda: (
            box.systemctl("is-active", "homei-svc-ticker.service", check=False).stdout.strip()
            == "active"
        ),
        60,
        lambda: AssertionError(
            "the unit did not start:\n"
            + box.exec("journalctl", "-n", "30", "--no-pager", check=False).stdout
            + daemon.log()[-2000:]
        ),
    )
    wait_for(
        lambda: "tick 2" in _service_logs(homei, "ticker"),
        30,
        lambda: AssertionError(f"no journal lines: {_service_logs(homei, 'ticker')}"),
    )
    messages = [m for m in _service_logs(homei, "ticker") if m.startswith("tick ")]
    ticks = [int(m.split()[1]) for m in messages]
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), messages  # in order, whole

    # Following brings lines written after it began.
    request = urllib.request.Request(
        f"{daemon.url}/api/v1/services/ticker/logs?follow=true&tail=1&timestamps=false",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        first = int(response.readline().decode().split()[1])
        started = time.monotonic()
        while True:
            later = int(response.readline().decode().split()[1])
            if later > first + 2:
                break
            assert time.monotonic() - started < 30

    # The device's journal names the unit too.
    status, answer = daemon.request(
        "GET", "/api/v1/logs?unit=homei-svc-ticker.service&limit=3", token=token
    )
    assert status == 200, answer
    assert [e["unit"] for e in answer["logs"]] == ["homei-svc-ticker.service"] * 3
    assert answer["logs"][0]["cursor"].startswith("s=")
