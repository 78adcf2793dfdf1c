"""The containers API against a real Docker engine (a private dockerd started for the tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import RATE_LIMITS_OPEN
from tests.docker_env import IMAGE, DockerEngine, dockerd_available

pytestmark = pytest.mark.skipif(not dockerd_available(), reason="dockerd is not installed")

LABEL = "io.homei.test=containers"


@pytest.fixture
async def homei(engine: DockerEngine, make_homei):
    toml = RATE_LIMITS_OPEN + (
        f'[docker]\nurl = "{engine.host}"\n'
        '[update]\ndbus_address = "unix:path=/nonexistent/homei-test-bus"\n'
    )
    homei = await make_homei(toml)
    yield homei
    await homei.client.close()  # first, or its reconciler would bring its services back
    await asyncio.to_thread(engine.remove_containers, LABEL)
    await asyncio.to_thread(engine.remove_containers, "io.homei.managed")


async def run(engine: DockerEngine, *args: str) -> str:
    result = await asyncio.to_thread(engine.run, *args)
    return result.stdout.strip()


async def start(engine: DockerEngine, name: str, *cmd: str) -> str:
    return await run(engine, "run", "-d", "--name", name, "--label", LABEL, IMAGE, *cmd)


async def test_list_filters_by_managed_and_status(homei, engine):
    headers = await homei.auth()
    # Managed: declared as a service (a managed container no service declares is removed).
    accepted = await homei.client.post(
        "/api/v1/services",
        headers=headers,
        json={"name": "app-managed", "image": IMAGE, "command": ["sleep", "300"]},
    )
    assert accepted.status == 202, await accepted.text()
    task_id = (await accepted.json())["taskId"]
    async with asyncio.timeout(60):
        while (await get_json(homei, f"/api/v1/tasks/{task_id}", headers))["status"] != (
            "completed"
        ):
            await asyncio.sleep(0.1)
    await start(engine, "app-foreign", "sleep", "300")
    await start(engine, "app-done", "true")
    await wait_for_exit(engine, "app-done")
    body = await get_json(homei, "/api/v1/containers", headers)
    by_name = {c["name"]: c for c in body["containers"]}
    assert {"app-managed", "app-foreign", "app-done"} <= set(by_name)
    assert by_name["app-managed"]["managed"] is True
    assert by_name["app-managed"]["service"] == "app-managed"
    assert by_name["app-foreign"]["managed"] is False
    assert by_name["app-managed"]["status"] == "running"
    managed = await get_json(homei, "/api/v1/containers?managed=true", headers)
    assert [c["name"] for c in managed["containers"]] == ["app-managed"]
    foreign = await get_json(homei, "/api/v1/containers?managed=false", headers)
    assert "app-managed" not in {c["name"] for c in foreign["containers"]}
    exited = await get_json(homei, "/api/v1/containers?status=exited", headers)
    assert {c["name"] for c in exited["containers"]} == {"app-done"}


async def wait_for_exit(engine: DockerEngine, name: str) -> None:
    async with asyncio.timeout(30):
        while (await asyncio.to_thread(engine.inspect, name))["State"]["Running"]:
            await asyncio.sleep(0.05)


async def get_json(homei, path: str, headers, status: int = 200):
    response = await homei.client.get(path, headers=headers)
    assert response.status == status, await response.text()
    return await response.json()


async def test_get_in_the_shape_of_001_and_404(homei, engine):
    headers = await homei.auth()
    cid = await run(
        engine,
        "run",
        "-d",
        "--name",
        "web",
        "--label",
        LABEL,
        "-e",
        "GREETING=hi",
        "-p",
        "127.0.0.1::8080",
        IMAGE,
        "httpd",
        "-f",
        "-p",
        "8080",
    )
    body = await get_json(homei, f"/api/v1/containers/{cid[:12]}", headers)
    assert body["id"] == cid[:12] and body["name"] == "web" and body["image"] == IMAGE
    assert body["state"]["running"] is True and body["state"]["pid"] > 0
    assert "GREETING=hi" in body["config"]["env"]
    assert body["config"]["cmd"] == ["httpd", "-f", "-p", "8080"]
    binding = body["network_settings"]["ports"]["8080/tcp"][0]
    assert binding["host_ip"] == "127.0.0.1" and int(binding["host_port"]) > 0
    by_name = await get_json(homei, "/api/v1/containers/web", headers)
    assert by_name["full_id"] == cid
    error = await get_json(homei, "/api/v1/containers/nothing-here", headers, 404)
    assert error["error"]["code"] == "CONTAINER_NOT_FOUND"


async def test_logs_tail_timestamps_and_permission(homei, engine):
    operator = await homei.add_user("ops", "operator")
    viewer = await homei.add_user("viv", "viewer")
    await start(engine, "talker", "sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done")
    await wait_for_exit(engine, "talker")
    body = await get_json(homei, "/api/v1/containers/talker/logs?tail=2", operator)
    assert body["logs"] == ["line 4", "line 5"]
    stamped = await get_json(
        homei, "/api/v1/containers/talker/logs?tail=1&timestamps=true", operator
    )
    stamp, _, text = stamped["logs"][0].partition(" ")
    assert text == "line 5" and stamp.endswith("Z")
    future = await get_json(homei, "/api/v1/containers/talker/logs?since=4102444800", operator)
    assert future["logs"] == []
    response = await homei.client.get("/api/v1/containers/talker/logs", headers=viewer)
    assert response.status == 403


async def test_follow_over_websocket_and_http(homei, engine):
    token = await homei.token()
    await start(
        engine,
        "ticker",
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done",
    )
    seen: list[str] = []
    async with homei.client.ws_connect(f"/ws/containers/ticker/logs?tail=0&token={token}") as ws:
        async with asyncio.timeout(30):
            while len(seen) < 5:
                seen.append(await ws.receive_str())
    numbers = [int(line.split()[1]) for line in seen]
    assert numbers == sorted(numbers) and len(set(numbers)) == 5
    response = await homei.client.get(
        "/api/v1/containers/ticker/logs?follow=true&tail=0",
        headers={"Authorization": f"Bearer {token}"},
        timeout=aiohttp.ClientTimeout(total=30),
    )
    assert response.status == 200
    first = await response.content.readline()
    second = await response.content.readline()
    assert first.startswith(b"tick ") and second.startswith(b"tick ")
    response.close()


async def test_stats_compute_cpu_and_memory(homei, engine):
    await start(engine, "busy", "sh", "-c", "while true; do :; done")
    body = await get_json(homei, "/api/v1/containers/busy/stats", await homei.auth())
    assert body["cpu_percent"] > 5.0
    assert 0 < body["memory_usage"]["usage"] <= body["memory_usage"]["limit"]
    assert 0 <= body["memory_usage"]["percent"] <= 100
    assert body["pids"] >= 1


async def test_docker_events_become_homei_events(homei, engine):
    subscription = homei.components.events.subscribe(["container.*"])
    containers = homei.components.containers
    async with asyncio.timeout(30):  # Docker's event stream open: no event can be missed
        while not containers.is_watching:
            await asyncio.sleep(0.05)
    await start(engine, "evented", "true")
    seen: dict[str, dict] = {}
    async with asyncio.timeout(30):
        while "container.die" not in seen:
            event = await subscription.get()
            if event.data.get("name") == "evented":
                seen[event.type] = event.data
    assert {"container.create", "container.start", "container.die"} <= set(seen)
    assert seen["container.die"]["exit_code"] == "0"


async def test_docker_down_is_503_within_a_second_then_recovers(homei, engine):
    headers = await homei.auth()
    await asyncio.to_thread(engine.stop_engine)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await homei.client.get("/api/v1/containers", headers=headers)
        assert response.status == 503
        assert loop.time() - started < 1.5
        assert (await response.json())["error"]["code"] == "DOCKER_ERROR"
        deps = await get_json(homei, "/api/v1/health/dependencies", headers)
        assert deps["docker"]["status"] == "unhealthy" and deps["docker"]["critical"] is True
        ready = await homei.client.get("/health/ready")
        assert ready.status == 503
    finally:
        await asyncio.to_thread(engine.start_engine)
    await get_json(homei, "/api/v1/containers", headers)
    deps = await get_json(homei, "/api/v1/health/dependencies", headers)
    assert deps["docker"]["status"] == "healthy"


def test_image_harness_is_local(engine: DockerEngine, tmp_path: Path):
    assert engine.image_id(IMAGE)


async def test_images_are_listed_and_loaded_without_a_registry(homei, engine, tmp_path):
    headers = await homei.auth()
    body = await get_json(homei, "/api/v1/images", headers)
    assert IMAGE in {tag for image in body["images"] for tag in image["tags"]}
    # A `docker save` tarball, as a device without a registry receives one.
    await run(engine, "tag", IMAGE, "homei-test/offline:2")
    tarball = await asyncio.to_thread(
        engine.save_image, "homei-test/offline:2", tmp_path / "offline.tar"
    )
    await run(engine, "rmi", "homei-test/offline:2")

    async def chunks():
        with tarball.open("rb") as handle:
            while chunk := await asyncio.to_thread(handle.read, 256 * 1024):
                yield chunk

    response = await homei.client.post(
        "/api/v1/images/load",
        data=chunks(),
        headers={**headers, "Content-Type": "application/x-tar"},
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["images"] == ["homei-test/offline:2"]
    assert await asyncio.to_thread(engine.image_id, "homei-test/offline:2")
    response = await homei.client.post(
        "/api/v1/images/load",
        data=b"not a tarball",
        headers={**headers, "Content-Type": "application/x-tar"},
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "VALIDATION_ERROR"
