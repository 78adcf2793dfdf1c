"""Nothing lost across a restart of a real `homei serve`: an execution cut by kill -9 is
failed with the reason at the next start; jobs whose time passed while Homei was down run
once at start, or are marked missed, as each says."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.daemon_process import HomeiProcess, start_homei
from tests.processes import is_alive

FINISHED = {"completed", "failed", "cancelled", "missed"}


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll `condition` until it answers something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout}s")
        time.sleep(0.05)
    return result


def job(homei: HomeiProcess, token: str, job_id: str) -> dict[str, Any]:
    status, body = homei.request("GET", f"/api/v1/jobs/{job_id}", token=token)
    assert status == 200, body
    return dict(body)


def create(homei: HomeiProcess, token: str, **body: Any) -> str:
    status, answer = homei.request(
        "POST", "/api/v1/jobs", {"name": "t", "system_ids": ["local"], **body}, token=token
    )
    assert status == 201, answer
    return str(answer["id"])


def test_kill_9_during_a_run_and_times_missed_while_down(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    homei = start_homei(tmp_path)
    child = 0
    try:
        token = homei.login()
        running = create(homei, token, command=f"sleep 60 & echo $! > {pid_file}; wait")
        soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        catch_up = create(homei, token, command="echo caught up", schedule_at=soon)
        missed = create(homei, token, command="true", schedule_at=soon, on_missed="mark_missed")
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), "the command")
        child = int(pid_file.read_text())
        assert job(homei, token, running)["executions"][0]["status"] == "running"
        homei.process.send_signal(signal.SIGKILL)
        homei.process.wait(10)
        # The scheduled times pass while Homei is down.
        wait_for(lambda: datetime.now(UTC).isoformat() > soon, "the scheduled time", 10)
    finally:
        homei.stop()

    again = start_homei(tmp_path)
    try:
        token = again.login()
        cut = job(again, token, running)
        [run] = cut["executions"]
        assert cut["status"] == "failed" and run["status"] == "failed"
        assert run["error_message"].startswith("Homei stopped while this ran")
        assert run["completed_at"]
        done = wait_for(
            lambda: (j := job(again, token, catch_up))["status"] in FINISHED and j, "the catch-up"
        )
        assert done["status"] == "completed"
        assert done["executions"][0]["stdout"] == "caught up\n"
        skipped = job(again, token, missed)
        assert skipped["status"] == "missed" and skipped["next_run_at"] is None
        assert skipped["executions"][0]["status"] == "missed"
    finally:
        again.stop()
        if child and is_alive(child):  # the command outlived the killed daemon, as it would
            os.kill(child, signal.SIGKILL)
