"""Scenarios 1, 5 and 6 on one freshly flashed appliance: the first boot, the daemon
watchdog (systemd restarts a hung Homei) and the system watchdog (the i6300esb resets a hung
machine). They run in this order; the last one resets the machine."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.qemu.appliance import BANNER, Appliance, wait_for
from tests.qemu.conftest import BOOT_DEADLINE, grubenv, record, slot, wait_boot_complete

WATCHDOG_SEC = 15  # systemd/homei.service
ABORT_SEC = 5  # TimeoutAbortSec: a stopped process cannot take SIGABRT, so SIGKILL follows
RESTART_MARGIN = 60  # a fresh Homei under TCG: Python's start and the database


@pytest.fixture(scope="module")
def machine(image: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    machine = Appliance(tmp_path_factory.mktemp("qemu-boot") / "run")
    yield machine
    machine.power_cut()


def unit(machine: Appliance, name: str, *properties: str) -> dict[str, str]:
    text = machine.run(f"systemctl show {name} -p {','.join(properties)}")
    return dict(line.split("=", 1) for line in text.splitlines())


@pytest.mark.timeout(3600)  # includes a cold image build on a fresh machine
def test_first_boot_is_ready_and_good(machine: Appliance):
    machine.power_on(fresh=True)
    login = machine.wait_console(r"login: ?$", BOOT_DEADLINE)
    assert login
    record("power-on to login prompt", time.monotonic() - machine.powered_on)
    health = machine.wait_api(BOOT_DEADLINE)
    assert health["status"] in ("healthy", "degraded"), health
    record("power-on to the API answering", time.monotonic() - machine.powered_on)

    # READY=1 reached systemd: a notify unit is active only after it, and STATUS= came too.
    service = unit(
        machine,
        "homei.service",
        "Type",
        "ActiveState",
        "StatusText",
        "ExecMainStartTimestampMonotonic",
        "ActiveEnterTimestampMonotonic",
    )
    assert service["Type"] == "notify" and service["ActiveState"] == "active", service
    assert service["StatusText"].startswith("Serving"), service
    started, ready = (
        int(service["ExecMainStartTimestampMonotonic"]),
        int(service["ActiveEnterTimestampMonotonic"]),
    )
    record("kernel start to Homei's READY", ready / 1e6)
    record("Homei's start to READY", (ready - started) / 1e6)

    wait_boot_complete(machine)
    token = machine.login()
    status = wait_for("RAUC's status", lambda: machine.update_status(token), BOOT_DEADLINE)
    assert status["bootSlot"] == "A" and status["compatible"] == "homei-qemu-x86_64", status
    assert slot(status, "A")["state"] == "booted", status
    # rauc-mark-good ran after boot-complete.target, which Homei's gate is required by.
    status = wait_for(
        "slot A marked good",
        lambda: (s := machine.update_status(token)) and slot(s, "A")["boot_status"] == "good" and s,
        BOOT_DEADLINE,
    )
    env = grubenv(machine)
    assert env["A_OK"] == "1" and env["A_TRY"] == "0", env
    gate = unit(machine, "homei-gate.service", "ActiveState", "Result")
    assert gate == {"ActiveState": "active", "Result": "success"}, gate


@pytest.mark.timeout(900)
def test_daemon_watchdog_restarts_a_hung_homei(machine: Appliance):
    if machine.process is None:
        pytest.skip("the first boot did not run")
    before = unit(machine, "homei.service", "MainPID", "NRestarts")
    stopped_at = float(machine.run(f"kill -STOP {before['MainPID']} && date +%s.%N"))

    def restarted() -> dict[str, str] | None:
        now = unit(machine, "homei.service", "MainPID", "ActiveState", "NRestarts")
        fresh = now["MainPID"] not in ("0", before["MainPID"]) and now["ActiveState"] == "active"
        return now if fresh else None

    after = wait_for("a new Homei", restarted, WATCHDOG_SEC + ABORT_SEC + RESTART_MARGIN + 60)
    assert int(after["NRestarts"]) == int(before["NRestarts"]) + 1, after

    journal = [
        json.loads(line)
        for line in machine.run(
            "journalctl -b -o json --no-pager -u homei.service --output-fields=MESSAGE"
        ).splitlines()
    ]
    timeouts = [e for e in journal if "Watchdog timeout" in str(e.get("MESSAGE"))]
    assert timeouts, [e.get("MESSAGE") for e in journal][-20:]
    fired = int(timeouts[-1]["__REALTIME_TIMESTAMP"]) / 1e6 - stopped_at
    restarted_at = float(machine.run("date +%s.%N"))
    record("SIGSTOP to systemd's watchdog timeout", fired)
    record("SIGSTOP to a new Homei serving", restarted_at - stopped_at)
    # The watchdog fired after WatchdogSec (give or take a ping interval), not later.
    assert WATCHDOG_SEC / 2 <= fired <= WATCHDOG_SEC + 5, fired
    machine.wait_api(BOOT_DEADLINE)


@pytest.mark.timeout(1200)
def test_system_watchdog_resets_a_hung_machine(machine: Appliance):
    if machine.process is None:
        pytest.skip("the first boot did not run")
    # systemd opened the i6300esb and feeds it (RuntimeWatchdogSec in system.conf.d).
    armed = machine.run(
        "cat /sys/class/watchdog/watchdog0/identity /sys/class/watchdog/watchdog0/state; "
        "systemctl show -p RuntimeWatchdogUSec --value"
    ).split("\n")
    assert armed[:3] == ["i6300ESB timer", "active", "30s"], armed
    qmp = machine.qmp()
    mark = machine.console_size()
    try:
        # Real-time busy loops on every CPU, with the kernel's RT throttling off: nothing
        # else runs, systemd included, so nobody feeds the i6300esb. The SSH session hangs
        # with the rest of the guest.
        frozen = time.monotonic()
        machine.try_run(
            "echo -1 >/proc/sys/kernel/sched_rt_runtime_us; "
            "for cpu in $(seq 0 $(($(nproc) - 1))); do "
            "setsid -f taskset -c $cpu chrt -f 99 sh -c 'while :; do :; done' "
            "</dev/null >/dev/null 2>&1; done",
            timeout=20,
        )
        event = qmp.wait_event("WATCHDOG", 300)
        record("system hung to the i6300esb reset", time.monotonic() - frozen)
    finally:
        qmp.close()
    assert event["data"]["action"] == "reset", event
    wait_for("a new boot", lambda: machine.boots_since(mark) >= 1, BOOT_DEADLINE)
    machine.wait_api(BOOT_DEADLINE)
    wait_boot_complete(machine)
    token = machine.login()
    status = wait_for("RAUC's status", lambda: machine.update_status(token), BOOT_DEADLINE)
    booted = slot(status, status["bootSlot"])
    assert booted["state"] == "booted" and booted["boot_status"] == "good", status
    assert BANNER in machine.console_text(mark)
