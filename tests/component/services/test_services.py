"""Declared services against a real Docker engine: install, dependencies, refusals, update,
delete and control."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.component.services.env import (
    call,
    httpd,
    install,
    reconciled,
    running,
    sleeper,
    state,
    wait_task,
)
from tests.docker_env import IMAGE, dockerd_available

pytestmark = pytest.mark.skipif(not dockerd_available(), reason="dockerd is not installed")


async def test_install_starts_dependencies_first_and_joins_one_network(homei, engine):
    headers = await homei.auth()
    await install(homei, headers, httpd("db", category="database", volumes=["db-data:/data"]))
    # Seed 000's nested body, depending on the first.
    nested = {
        "name": "web",
        "category": "frontend",
        "version": "1",
        "config": {
            "image": IMAGE,
            "command": ["sleep", "3600"],
            "dependencies": ["db"],
            "restart": "always",
            "environment": {"GREETING": "hello"},
        },
    }
    task = await install(homei, headers, nested)
    assert task["progress"] == 100
    db, web = (
        await asyncio.to_thread(engine.inspect, "db"),
        await asyncio.to_thread(engine.inspect, "web"),
    )
    assert db["State"]["Running"] and web["State"]["Running"]
    assert db["State"]["StartedAt"] <= web["State"]["StartedAt"]
    labels = web["Config"]["Labels"]
    assert labels["io.homei.managed"] == "true" and labels["io.homei.service"] == "web"
    assert "GREETING=hello" in web["Config"]["Env"]
    assert web["HostConfig"]["RestartPolicy"]["Name"] == "always"
    # Both on Homei's network, where a service is reachable by its name.
    fetched = await asyncio.to_thread(
        engine.run, "exec", "web", "wget", "-q", "-O-", "http://db:8080/index.html"
    )
    assert fetched.stdout.strip() == "homei test image"

    listed = await call(homei, "GET", "/api/v1/services?sort=name", headers)
    assert [s["name"] for s in listed["services"]] == ["db", "web"]
    shown = await call(homei, "GET", "/api/v1/services/web", headers)
    assert shown["status"] == "running"
    assert shown["depends_on"] == ["db"] and shown["config"]["dependencies"] == ["db"]
    assert shown["category"] == "frontend" and shown["restart_policy"] == "always"
    assert shown["containers"][0]["name"] == "web"
    only_db = await call(homei, "GET", "/api/v1/services?category=database", headers)
    assert [s["name"] for s in only_db["services"]] == ["db"]


async def test_bad_specs_are_refused_and_leave_nothing(homei, engine):
    headers = await homei.auth()
    cases = [
        ({"name": "ghost", "image": "nowhere.invalid/none:1"}, 400, "INVALID_CONFIG", "image"),
        ({**sleeper("p"), "privileged": True}, 400, "INVALID_CONFIG", "privileged"),
        ({**sleeper("n"), "network_mode": "host"}, 400, "INVALID_CONFIG", "network_mode"),
        ({**sleeper("c"), "cap_add": ["SYS_ADMIN"]}, 400, "INVALID_CONFIG", "cap_add"),
        (
            {**sleeper("v"), "volumes": ["/etc:/host-etc"]},
            400,
            "INVALID_CONFIG",
            "volumes[0].source",
        ),
        ({**sleeper("e"), "volumes": ["../../x:/x"]}, 400, "INVALID_CONFIG", "volumes[0].source"),
        ({**sleeper("d"), "depends_on": ["nobody"]}, 400, "DEPENDENCY_ERROR", None),
        ({**sleeper("s"), "ports": ["70000:80"]}, 400, "VALIDATION_ERROR", "ports[0]"),
        ({**sleeper("u"), "unknown": 1}, 400, "VALIDATION_ERROR", None),
        ({"name": "Bad Name", "image": IMAGE}, 400, "VALIDATION_ERROR", None),
    ]
    for body, status, code, field in cases:
        refused = await call(homei, "POST", "/api/v1/services", headers, status, json=body)
        assert refused["error"]["code"] == code, (body, refused)
        if field is not None:
            assert refused["error"]["details"]["fields"][0]["path"] == field, refused
    assert (await call(homei, "GET", "/api/v1/services", headers))["services"] == []
    assert [c for c in await asyncio.to_thread(engine.containers, "io.homei.managed")] == []

    port = free_port()
    await install(homei, headers, httpd("taken", ports=[f"127.0.0.1:{port}:8080"]))
    again = await call(homei, "POST", "/api/v1/services", headers, 409, json=sleeper("taken"))
    assert again["error"]["code"] == "SERVICE_ALREADY_EXISTS"
    clash = await call(
        homei,
        "POST",
        "/api/v1/services",
        headers,
        409,
        json=httpd("second", ports=[f"127.0.0.1:{port}:8080"]),
    )
    assert clash["error"]["code"] == "INVALID_CONFIG" and str(port) in clash["error"]["message"]
    verdict = await call(
        homei,
        "POST",
        "/api/v1/services/validate",
        headers,
        json={**sleeper("x"), "depends_on": ["nobody"]},
    )
    assert verdict["valid"] is False and "nobody" in verdict["errors"][0]


async def test_cycles_are_refused_naming_them(homei):
    headers = await homei.auth()
    await install(homei, headers, sleeper("alpha"))
    await install(homei, headers, sleeper("beta", depends_on=["alpha"]))
    accepted = await call(
        homei, "PUT", "/api/v1/services/alpha", headers, 400, json={"depends_on": ["beta"]}
    )
    assert accepted["error"]["code"] == "DEPENDENCY_ERROR"
    assert accepted["error"]["details"]["cycle"] == ["alpha", "beta", "alpha"]


async def test_stop_and_start_follow_dependency_order(homei, engine):
    headers = await homei.auth()
    await install(homei, headers, sleeper("base"))
    await install(homei, headers, sleeper("mid", depends_on=["base"]))
    await install(homei, headers, sleeper("top", depends_on=["mid"]))
    stopped = await call(homei, "POST", "/api/v1/services/base/stop?timeout=1", headers)
    assert stopped["services"] == ["top", "mid", "base"]
    for name in ("base", "mid", "top"):
        assert not await running(engine, name)
    # Stopped on purpose: a reconcile pass leaves them stopped.
    await reconciled(homei)
    for name in ("base", "mid", "top"):
        assert not await running(engine, name)
    started = await call(
        homei, "POST", "/api/v1/services/top/control", headers, json={"action": "start"}
    )
    assert started["services"] == ["base", "mid", "top"]
    tops = await asyncio.to_thread(state, engine, "top")
    bases = await asyncio.to_thread(state, engine, "base")
    assert bases["StartedAt"] <= tops["StartedAt"]
    await call(homei, "POST", "/api/v1/services/mid/restart", headers)
    assert await running(engine, "top") and await running(engine, "mid")
    assert (await asyncio.to_thread(state, engine, "top"))["StartedAt"] > tops["StartedAt"]


async def test_update_swaps_and_a_failed_one_keeps_the_old_container(homei, engine):
    headers = await homei.auth()
    await install(homei, headers, httpd("app", environment={"MODE": "one"}))
    first = await asyncio.to_thread(engine.inspect, "app")
    accepted = await call(
        homei, "PUT", "/api/v1/services/app", headers, 202, json={"environment": {"MODE": "two"}}
    )
    assert (await wait_task(homei, headers, accepted["taskId"]))["status"] == "completed"
    second = await asyncio.to_thread(engine.inspect, "app")
    assert second["Id"] != first["Id"] and "MODE=two" in second["Config"]["Env"]
    assert second["State"]["Running"]

    # A command that cannot start: the new container fails and the old one runs on.
    broken = await call(
        homei, "PUT", "/api/v1/services/app", headers, 202, json={"command": ["/no/such/program"]}
    )
    task = await wait_task(homei, headers, broken["taskId"])
    assert task["status"] == "failed"
    after = await asyncio.to_thread(engine.inspect, "app")
    assert after["Id"] == second["Id"] and after["State"]["Running"]
    shown = await call(homei, "GET", "/api/v1/services/app", headers)
    assert shown["environment"] == {"MODE": "two"}
    assert shown["config"]["command"] == ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
    names = {c["Names"][0] for c in await asyncio.to_thread(engine.containers, "io.homei.managed")}
    assert names == {"/app"}


async def test_delete_refuses_while_needed_unless_forced(homei, engine):
    headers = await homei.auth()
    await install(homei, headers, sleeper("store", volumes=["store-data:/data"]))
    await install(homei, headers, sleeper("user", depends_on=["store"]))
    refused = await call(homei, "DELETE", "/api/v1/services/store", headers, 409)
    assert refused["error"]["code"] == "DEPENDENCY_ERROR"
    assert refused["error"]["details"]["dependents"] == ["user"]
    assert await running(engine, "store")
    await call(homei, "DELETE", "/api/v1/services/user", headers)
    assert await asyncio.to_thread(state, engine, "user") == {}
    await call(homei, "DELETE", "/api/v1/services/store?removeData=true", headers)
    assert await asyncio.to_thread(state, engine, "store") == {}
    volume = await asyncio.to_thread(engine.api, "GET", "/volumes/store-data")
    assert volume.status == 404
    missing = await call(homei, "GET", "/api/v1/services/store", headers, 404)
    assert missing["error"]["code"] == "SERVICE_NOT_FOUND"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
