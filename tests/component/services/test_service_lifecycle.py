"""What a service leaves behind and what it reports on a real Docker engine: crash loops,
unknown services, who asked for a task, and cleaning up after failed installs and deletes."""

from __future__ import annotations

import asyncio

import pytest

from tests.component.services.env import call, install, sleeper, until, wait_task
from tests.docker_env import IMAGE, dockerd_available

pytestmark = pytest.mark.skipif(not dockerd_available(), reason="dockerd is not installed")


async def ready_status(homei) -> int:
    response = await homei.client.get("/health/ready")
    return response.status


async def test_a_critical_crash_loop_is_unhealthy_and_the_device_not_ready(homei, engine):
    headers = await homei.auth()
    assert await ready_status(homei) == 200
    crashing = {
        "name": "crashy",
        "image": IMAGE,
        "command": ["sh", "-c", "exit 3"],
        "restart_policy": "always",
        "critical": True,
        "stop_timeout": 1,
        "health": {"interval": "0.3s"},
    }
    await install(homei, headers, crashing)

    async def unhealthy() -> dict | None:
        # The health group's quota, not the services group's: this polls for a while.
        report = await call(homei, "GET", "/api/v1/health/services", headers)
        row = {s["name"]: s for s in report["services"]}["crashy"]
        return row if row["status"] == "unhealthy" else None

    row = await until(unhealthy, "the crash loop reported as unhealthy")
    assert "restart" in row["error"], row
    await until(lambda: _is(ready_status(homei), 503), "/health/ready to answer 503")
    ready = await homei.client.get("/health/ready")
    assert "services" in (await ready.json())["error"]["details"]["failing"]
    # Docker restarts it on its own: Homei does not add restarts of its own to the loop.
    assert (await call(homei, "GET", "/api/v1/services/crashy", headers))["restarts"] == 0

    # Stopped on purpose, it is no longer a reason for the device not to be ready.
    await call(homei, "POST", "/api/v1/services/crashy/stop?timeout=1", headers)
    await until(lambda: _is(ready_status(homei), 200), "/health/ready to answer 200 again")


async def _is(value, expected) -> bool:
    return await value == expected


async def test_control_of_an_unknown_service_is_service_not_found(homei):
    headers = await homei.auth()
    for path, body in (
        ("start", None),
        ("stop", None),
        ("restart", None),
        ("control", {"action": "start"}),
        ("control", {"action": "stop"}),
        ("control", {"action": "restart"}),
    ):
        refused = await call(
            homei, "POST", f"/api/v1/services/ghost/{path}", headers, 404, json=body
        )
        assert refused["error"]["code"] == "SERVICE_NOT_FOUND", (path, body, refused)


async def test_tasks_record_who_installed_and_updated(homei):
    headers = await homei.add_user("olivia", "admin")
    task = await install(homei, headers, sleeper("owned"))
    assert task["createdBy"] == "olivia"
    accepted = await call(
        homei, "PUT", "/api/v1/services/owned", headers, 202, json={"environment": {"A": "1"}}
    )
    updated = await wait_task(homei, headers, accepted["taskId"])
    assert updated["status"] == "completed" and updated["createdBy"] == "olivia"


async def test_a_failed_install_leaves_no_folder_but_keeps_one_that_was_there(homei, engine):
    headers = await homei.auth()
    services_dir = homei.settings.services_dir
    broken = {**sleeper("broken"), "command": ["/no/such/program"]}
    accepted = await call(homei, "POST", "/api/v1/services", headers, 202, json=broken)
    assert (await wait_task(homei, headers, accepted["taskId"]))["status"] == "failed"
    assert not await asyncio.to_thread((services_dir / "broken").exists)
    assert await asyncio.to_thread(engine.containers, "io.homei.service=broken") == []

    kept = services_dir / "kept"
    await asyncio.to_thread(kept.mkdir, parents=True)
    await asyncio.to_thread((kept / "settings.conf").write_text, "mine\n")
    accepted = await call(
        homei, "POST", "/api/v1/services", headers, 202, json={**broken, "name": "kept"}
    )
    assert (await wait_task(homei, headers, accepted["taskId"]))["status"] == "failed"
    assert await asyncio.to_thread((kept / "settings.conf").read_text) == "mine\n"


async def test_deleting_services_removes_their_networks_once_unused(homei, engine):
    headers = await homei.auth()
    await install(homei, headers, sleeper("lonely", networks=["lonely-net"]))
    await install(homei, headers, sleeper("one", networks=["shared-net"]))
    await install(homei, headers, sleeper("two", networks=["shared-net"]))

    async def network(name: str) -> int:
        return (await asyncio.to_thread(engine.api, "GET", f"/networks/{name}")).status

    assert await network("lonely-net") == 200
    await call(homei, "DELETE", "/api/v1/services/lonely", headers)
    assert await network("lonely-net") == 404
    await call(homei, "DELETE", "/api/v1/services/one", headers)
    assert await network("shared-net") == 200  # `two` is still on it
    await call(homei, "DELETE", "/api/v1/services/two", headers)
    assert await network("shared-net") == 404
    assert await network("homei") == 200  # the default network is shared by every service
