"""kill -9 of a real `homei serve` in the middle of a backup and of a restore: no partial
backup is ever listed, earlier backups and the live data stay intact, leftovers are swept."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path

import pytest

from tests.daemon_process import HomeiProcess, start_homei

FILLER_MIB = 160


def fill_database(data_dir: Path) -> None:
    """A device database big enough that backing it up takes a while."""
    data_dir.mkdir(parents=True)
    with sqlite3.connect(data_dir / "homei.db") as db:
        db.execute("CREATE TABLE filler (blob BLOB)")
        for _ in range(FILLER_MIB):
            db.execute("INSERT INTO filler VALUES (?)", (os.urandom(2**20),))


def wait_for(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.01)
    raise AssertionError(f"no {what} within {timeout}s")


def finished_task(homei: HomeiProcess, token: str, task_id: str) -> dict:
    def done():
        _, body = homei.request("GET", f"/api/v1/tasks/{task_id}", token=token)
        return body if body["status"] in ("completed", "failed", "cancelled") else None

    return wait_for(done, f"end of {task_id}", 120)


def backups(homei: HomeiProcess, token: str) -> list[str]:
    status, body = homei.request("GET", "/api/v1/backups", token=token)
    assert status == 200, body
    return [b["name"] for b in body["backups"]]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def daemon(tmp_path: Path):
    fill_database(tmp_path / "data")
    started: list[HomeiProcess] = []

    def start() -> HomeiProcess:
        homei = start_homei(tmp_path, HOMEI_RATE_LIMITS__ENABLED="false")
        started.append(homei)
        return homei

    yield start
    for homei in started:
        homei.stop()


def test_kill_during_backup_and_restore_loses_nothing(daemon, tmp_path: Path):
    homei = daemon()
    token = homei.login()
    backups_dir = tmp_path / "data" / "backups"
    status, body = homei.request("POST", "/api/v1/backups", {"name": "first"}, token)
    assert status == 202, body
    assert finished_task(homei, token, body["taskId"])["status"] == "completed"
    first = body["name"]
    first_digest = digest(backups_dir / first)

    # Killed while the second backup is being written.
    status, body = homei.request("POST", "/api/v1/backups", {"name": "second"}, token)
    assert status == 202, body
    wait_for(
        lambda: any(p.name.startswith(".partial-") and p.stat().st_size > 2**20
                    for p in backups_dir.iterdir()),
        "partial backup being written",
    )  # fmt: skip
    homei.process.kill()
    homei.process.wait()
    homei = daemon()
    token = homei.login()
    assert backups(homei, token) == [first]
    assert sorted(p.name for p in backups_dir.iterdir()) == [first]
    assert digest(backups_dir / first) == first_digest
    status, task = homei.request("GET", f"/api/v1/tasks/{body['taskId']}", token=token)
    assert task["status"] == "failed"

    # Something changes, then a restore is killed while it unpacks: the change survives.
    status, _ = homei.request(
        "POST", "/api/v1/users", {"username": "after", "password": "correct-horse",
                                  "role": "viewer"}, token,
    )  # fmt: skip
    assert status == 201
    status, body = homei.request("POST", f"/api/v1/backups/{first}/restore", None, token)
    assert status == 202, body
    wait_for(
        lambda: any(p.name.startswith(".restore-") and any(p.rglob("*.db"))
                    for p in backups_dir.iterdir()),
        "restore staging",
    )  # fmt: skip
    homei.process.kill()
    homei.process.wait()
    homei = daemon()
    token = homei.login()
    status, users = homei.request("GET", "/api/v1/users", token=token)
    assert "after" in {u["username"] for u in users["users"]}
    assert sorted(p.name for p in backups_dir.iterdir()) == [first]
    # The backup itself is untouched and restores completely.
    status, body = homei.request("POST", f"/api/v1/backups/{first}/restore", None, token)
    assert status == 202, body
    assert finished_task(homei, token, body["taskId"])["status"] == "completed"
    status, users = homei.request("GET", "/api/v1/users", token=token)
    assert "after" not in {u["username"] for u in users["users"]}
