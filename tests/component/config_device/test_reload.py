"""`POST /api/v1/config/{service}/reload` on a real Docker engine: a declared signal or
command reaches the running instance, which keeps running (same container, same start);
without one, the instance is recreated and the service running on top of it restarted."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.component.services.env import call, install, sleeper, state, until, wait_task
from tests.docker_env import DockerEngine

# PID 1 of the container: a shell that notes each SIGHUP in a file.
TRAPPING = ["sh", "-c", "trap 'echo hup >> /tmp/reloads' HUP; while :; do sleep 0.1; done"]


def _container(engine: DockerEngine, name: str) -> tuple[str, str]:
    details = engine.inspect(name)
    return details["Id"], details["State"]["StartedAt"]


def _read(engine: DockerEngine, name: str, path: str) -> str:
    return engine.run("exec", name, "cat", path, check=False).stdout


async def _reload(homei: Any, headers: dict[str, str], name: str) -> dict[str, Any]:
    accepted = await call(homei, "POST", f"/api/v1/config/{name}/reload", headers, 202)
    assert accepted["service"] == name
    task = await wait_task(homei, headers, accepted["taskId"])
    assert task["status"] == "completed", task
    return task


async def test_reload_by_signal_keeps_the_container(homei: Any, engine: DockerEngine) -> None:
    headers = await homei.auth()
    await install(homei, headers, sleeper("sighup", command=TRAPPING, reload={"signal": "SIGHUP"}))
    before = await asyncio.to_thread(_container, engine, "sighup")
    async with homei.client.ws_connect("/ws/events?types=config:*", headers=headers) as ws:
        await ws.receive_json()  # `connected`
        task = await _reload(homei, headers, "sighup")
        event = await asyncio.wait_for(ws.receive_json(), 10)
    assert task["result"] == {"service": "sighup", "method": "SIGHUP"}
    assert event["type"] == "config:reloaded"
    assert event["data"] == {"service": "sighup", "method": "SIGHUP"}
    await until(
        lambda: asyncio.to_thread(_read, engine, "sighup", "/tmp/reloads"), "the trap's note"
    )
    assert await asyncio.to_thread(_container, engine, "sighup") == before
    assert (await asyncio.to_thread(state, engine, "sighup"))["Running"]


async def test_reload_by_command_runs_it_in_the_instance(homei: Any, engine: DockerEngine) -> None:
    headers = await homei.auth()
    await install(homei, headers, sleeper("bycommand", reload={"command": ["touch", "/tmp/done"]}))
    before = await asyncio.to_thread(_container, engine, "bycommand")
    task = await _reload(homei, headers, "bycommand")
    assert task["result"]["method"] == "command"
    done = await asyncio.to_thread(
        engine.run, "exec", "bycommand", "test", "-f", "/tmp/done", check=False
    )
    assert done.returncode == 0
    assert await asyncio.to_thread(_container, engine, "bycommand") == before


async def test_without_a_declared_way_the_instance_is_recreated(
    homei: Any, engine: DockerEngine
) -> None:
    headers = await homei.auth()
    await install(homei, headers, sleeper("base"))
    await install(homei, headers, sleeper("ontop", depends_on=["base"]))
    base_before = await asyncio.to_thread(_container, engine, "base")
    ontop_before = await asyncio.to_thread(_container, engine, "ontop")
    task = await _reload(homei, headers, "base")
    assert task["result"]["method"] == "recreate"
    base_after = await asyncio.to_thread(_container, engine, "base")
    assert base_after[0] != base_before[0]  # a new container
    assert (await asyncio.to_thread(state, engine, "base"))["Running"]
    # What runs on top of it was taken down first and brought back after.
    assert (await asyncio.to_thread(_container, engine, "ontop"))[1] != ontop_before[1]
    assert (await asyncio.to_thread(state, engine, "ontop"))["Running"]


async def test_reload_of_an_unknown_service_is_404(homei: Any) -> None:
    body = await call(homei, "POST", "/api/v1/config/nosuch/reload", await homei.auth(), 404)
    assert body["error"]["code"] == "SERVICE_NOT_FOUND"


def _environment(engine: DockerEngine, name: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in engine.inspect(name)["Config"]["Env"])


async def test_a_changed_device_variable_remakes_the_services_using_it(
    homei: Any, engine: DockerEngine
) -> None:
    headers = await homei.auth()
    change = {"variables": {"GREETING": "hello", "OTHER": "x"}}
    await call(homei, "PUT", "/api/v1/config", headers, json=change)
    await install(homei, headers, sleeper("user", environment={"SAY": "${GREETING} world"}))
    await install(homei, headers, sleeper("bystander"))
    assert (await asyncio.to_thread(_environment, engine, "user"))["SAY"] == "hello world"
    user_before = await asyncio.to_thread(_container, engine, "user")
    bystander_before = await asyncio.to_thread(_container, engine, "bystander")

    change = {"variables": {"GREETING": "bonjour", "OTHER": "x"}}
    answer = await call(homei, "PUT", "/api/v1/config", headers, json=change)
    assert answer["changed"] == ["device.variables"]
    tasks = await call(homei, "GET", "/api/v1/tasks?type=device_variables", headers)
    [task] = [t for t in tasks["tasks"] if t["type"] == "device_variables"]
    finished = await wait_task(homei, headers, task["id"])
    assert finished["status"] == "completed", finished
    assert finished["result"] == {"services": ["user"]}
    assert (await asyncio.to_thread(_environment, engine, "user"))["SAY"] == "bonjour world"
    assert (await asyncio.to_thread(_container, engine, "user"))[0] != user_before[0]
    assert await asyncio.to_thread(_container, engine, "bystander") == bystander_before
