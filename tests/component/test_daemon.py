"""`homei serve` as systemd runs it: READY, STATUS, WATCHDOG, STOPPING, and a graceful stop."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import stat
import subprocess
import threading
import time

import psutil
import pytest

from homei.core.task_records import INTERRUPTED_BY_RESTART
from tests.conftest import clean_environ, homei_command
from tests.daemon_process import start_homei
from tests.processes import wait_for


def test_ready_only_once_the_api_serves(tmp_path):
    homei = start_homei(tmp_path)
    try:
        assert homei.notify.messages[0].startswith("STATUS=")
        ready = next(m for m in homei.notify.messages if "READY=1" in m.splitlines())
        assert "STATUS=Serving http://127.0.0.1" in ready
        # READY was sent after the socket was listening: the API answers at once.
        status, body = homei.request("GET", "/health/ready")
        assert (status, body) == (200, {"status": "ready"})
        assert stat.S_IMODE(os.stat(homei.data_dir / "initial-admin-password").st_mode) == 0o600
        assert "initial-admin-password" in homei.log()
    finally:
        assert homei.stop() == 0


def test_watchdog_is_petted_while_healthy(tmp_path):
    homei = start_homei(tmp_path, WATCHDOG_USEC="400000")
    try:
        pets = [m for m in homei.notify.drain(2.0) if "WATCHDOG=1" in m.splitlines()]
        # Every 0.2 s: well above zero, and not a busy loop either.
        assert 4 <= len(pets) <= 15, pets
    finally:
        homei.stop()


def test_watchdog_for_another_pid_is_ignored(tmp_path):
    homei = start_homei(tmp_path, WATCHDOG_USEC="400000", WATCHDOG_PID="1")
    try:
        assert not [m for m in homei.notify.drain(1.0) if "WATCHDOG=1" in m]
    finally:
        homei.stop()


def test_a_frozen_daemon_stops_petting(tmp_path):
    homei = start_homei(tmp_path, WATCHDOG_USEC="400000")
    try:
        homei.notify.drain(0.5)
        os.kill(homei.process.pid, 19)  # SIGSTOP: what a wedged event loop looks like
        try:
            assert not [m for m in homei.notify.drain(1.5) if "WATCHDOG=1" in m]
        finally:
            os.kill(homei.process.pid, 18)  # SIGCONT
    finally:
        homei.stop()


def test_sigterm_finishes_inflight_requests_and_sends_stopping(tmp_path):
    homei = start_homei(tmp_path)
    token = homei.login()
    # Hold SQLite's write lock, so the next write request stays in flight (waiting on the
    # database) across SIGTERM, the way a slow disk would hold it.
    database = sqlite3.connect(homei.data_dir / "homei.db", isolation_level=None, timeout=30)
    database.execute("BEGIN IMMEDIATE")
    answer: dict[str, object] = {}
    request = threading.Thread(
        target=lambda: answer.update(
            result=homei.request("POST", "/api/v1/tasks", {"type": "database_check"}, token=token)
        )
    )
    request.start()
    wait_for(
        lambda: in_flight(homei),
        timeout=10,
        on_timeout=lambda: AssertionError("the request never reached the daemon"),
    )
    started = time.monotonic()
    homei.process.terminate()
    homei.notify.wait_for("STOPPING=1", timeout=10)
    database.execute("COMMIT")
    database.close()
    request.join(30)
    status, body = answer["result"]  # type: ignore[misc]
    assert status == 202, body
    assert homei.process.wait(15) == 0
    assert time.monotonic() - started < 10
    # Nothing listens any more, and the task it started is recorded as interrupted.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", homei.port), timeout=2)
    homei.notify.close()
    status, error, result = (
        sqlite3.connect(homei.data_dir / "homei.db")
        .execute("SELECT status, error, result FROM tasks WHERE id = ?", (body["id"],))
        .fetchone()
    )
    # The task ran while the daemon stopped: it either finished, with its result, or was
    # interrupted and says so. Never left pending or running, never failed for another reason.
    if status == "completed":
        assert error is None and json.loads(result)["success"] is True
    else:
        assert (status, error) == ("failed", INTERRUPTED_BY_RESTART)


def in_flight(homei) -> bool:
    """Whether a client holds a connection to the daemon's API port (psutil, no guessing)."""
    connections = psutil.Process(homei.process.pid).net_connections(kind="tcp")
    return any(
        c.status == psutil.CONN_ESTABLISHED and c.laddr.port == homei.port for c in connections
    )


def run_serve(tmp_path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = clean_environ(**environ)
    return subprocess.run(
        [*homei_command(), "serve", "--data-dir", str(tmp_path / "data"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[api\nlisten = 1", "homei.toml: "),
        ("[api]\nlisten = 8080\n", "homei.toml: api.listen: expected `str`, got `int`"),
        ("[api]\nlisen = '127.0.0.1:1'\n", "homei.toml: "),
        (
            "[rate_limits]\nanonymous = 0\n",
            "homei.toml: rate_limits.anonymous: expected `int` >= 1",
        ),
        ("[api]\nlisten = 'nowhere'\n", "homei.toml: api.listen: expected HOST:PORT"),
        ("log_level = 'loud'\n", "homei.toml: log_level: "),
    ],
)
def test_bad_settings_file_exits_2_with_one_line(tmp_path, content, expected):
    config = tmp_path / "homei.toml"
    config.write_text(content)
    result = run_serve(tmp_path, "--config", str(config))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"homei: {config}"), lines[0]
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_environment_names_it(tmp_path):
    result = run_serve(tmp_path, "--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 2 and "settings file not found" in result.stderr
    (tmp_path / "ok.toml").write_text("")
    result = run_serve(
        tmp_path, "--config", str(tmp_path / "ok.toml"), HOMEI_RATE_LIMITS__ADMIN="lots"
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "homei: environment (HOMEI_*): rate_limits.admin: expected `int`, got `str`"
    )


def test_busy_port_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (tmp_path / "ok.toml").write_text("")
        result = run_serve(
            tmp_path, "--config", str(tmp_path / "ok.toml"), "--listen", f"127.0.0.1:{port}"
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_second_start_keeps_the_first_admin(tmp_path):
    homei = start_homei(tmp_path)
    homei.stop()
    first = (homei.data_dir / "initial-admin-password").read_text()
    again = start_homei(tmp_path)
    try:
        assert (again.data_dir / "initial-admin-password").read_text() == first
        assert again.request("GET", "/health")[0] == 200
    finally:
        again.stop()
