"""Services kept equal to their specs on a real Docker engine: drift, restart policy, disabled
services, orphans, health-driven restarts, logs, metrics and Docker going away."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from homei.services.turns import ONE_PER_SERVICE
from tests.component.services.env import (
    call,
    httpd,
    install,
    reconciled,
    running,
    settings_for,
    sleeper,
    state,
    until,
)
from tests.docker_env import IMAGE, DockerEngine, dockerd_available

pytestmark = pytest.mark.skipif(not dockerd_available(), reason="dockerd is not installed")


def docker(engine: DockerEngine, *args: str) -> str:
    return engine.run(*args).stdout.strip()


async def test_drift_by_hand_is_repaired(homei, engine):
    headers = await homei.auth()
    await install(homei, headers, sleeper("drifty", restart_policy="always"))
    original = await asyncio.to_thread(engine.inspect, "drifty")
    # Someone changes the container by hand: its restart policy is no longer the declared one.
    await asyncio.to_thread(docker, engine, "update", "--restart", "no", "drifty")
    homei.components.reconciler.request("drifty")

    async def repaired() -> bool:
        # Removed, then made again: between the two there is no container to inspect.
        response = await asyncio.to_thread(engine.api, "GET", "/containers/drifty/json")
        current = response.body if response.status == 200 else None
        return (
            current is not None
            and current["Id"] != original["Id"]
            and current["State"]["Running"]
            and current["HostConfig"]["RestartPolicy"]["Name"] == "always"
        )

    await until(repaired, "the drifted container to be recreated from its spec")
    # Removed by hand: created again.
    await asyncio.to_thread(docker, engine, "rm", "-f", "drifty")
    await until(lambda: running(engine, "drifty"), "the removed container to come back")


async def test_restart_policy_and_disabled_services(homei, engine):
    headers = await homei.auth()
    await install(homei, headers, sleeper("keeper", restart_policy="always"))
    await install(homei, headers, sleeper("once", restart_policy="no"))
    # Stopped behind Homei's back: "always" comes back, "no" stays down.
    await asyncio.to_thread(docker, engine, "stop", "-t", "1", "keeper", "once")
    await until(lambda: running(engine, "keeper"), "'keeper' restarted per its policy")
    await reconciled(homei)  # a reconcile pass; "once" must still be down after it
    assert not await running(engine, "once")

    accepted = await call(
        homei, "PUT", "/api/v1/services/keeper", headers, 202, json={"enabled": False}
    )
    await until(
        lambda: call(homei, "GET", f"/api/v1/tasks/{accepted['taskId']}", headers),
        "the update task",
    )
    await until(lambda: _not(running(engine, "keeper")), "'keeper' stopped once disabled")
    await asyncio.to_thread(docker, engine, "start", "keeper")  # started by hand
    await until(lambda: _not(running(engine, "keeper")), "disabled 'keeper' stopped again")
    shown = await call(homei, "GET", "/api/v1/services/keeper", headers)
    assert shown["enabled"] is False and shown["status"] == "stopped"


async def test_an_orphan_of_a_busy_service_is_left_to_a_later_pass(homei, engine):
    # Held as an install holds it, between taking the name and declaring the service.
    async with homei.components.reconciler.workplace.holding(ONE_PER_SERVICE, "staged"):
        await asyncio.to_thread(
            docker,
            engine,
            "run",
            "-d",
            "--name",
            "staged",
            "--label",
            "io.homei.managed=true",
            "--label",
            "io.homei.service=staged",
            IMAGE,
            "sleep",
            "3600",
        )
        await reconciled(homei)  # a whole pass ends: it skipped the busy service, not waited
        assert await asyncio.to_thread(state, engine, "staged")
    await reconciled(homei)
    await until(lambda: _not(asyncio.to_thread(state, engine, "staged")), "the orphan removed")


async def _not(value) -> bool:
    return not await value


async def test_orphans_go_and_foreign_containers_stay(homei, engine):
    await asyncio.to_thread(
        docker,
        engine,
        "run",
        "-d",
        "--name",
        "orphan",
        "--label",
        "io.homei.managed=true",
        "--label",
        "io.homei.service=orphan",
        IMAGE,
        "sleep",
        "3600",
    )
    await asyncio.to_thread(
        docker,
        engine,
        "run",
        "-d",
        "--name",
        "foreign",
        "--label",
        "io.homei.test=1",
        IMAGE,
        "sleep",
        "3600",
    )
    homei.components.reconciler.request()
    await until(lambda: _not(asyncio.to_thread(state, engine, "orphan")), "the orphan removed")
    assert await running(engine, "foreign")


async def test_unhealthy_service_is_restarted_and_counted(homei, engine):
    headers = await homei.auth()
    socket = await homei.client.ws_connect(f"/ws/events?token={await homei.token()}")
    # Nothing listens on 8080 in a sleeper: the TCP check fails every time.
    health = {
        "checks": [{"type": "tcp", "port": 8080}],
        "interval": "0.3s",
        "start_period": "0s",
        "restart_after": 2,
    }
    await install(homei, headers, sleeper("sick", health=health))
    first = (await asyncio.to_thread(state, engine, "sick"))["StartedAt"]

    async def restarted() -> bool:
        # It keeps failing, so it is restarted again and again (with back-off): one of those
        # restarts comes after `first` was read, whenever the first one happened.
        shown = await call(homei, "GET", "/api/v1/services/sick", headers)
        now = (await asyncio.to_thread(state, engine, "sick")).get("StartedAt", first)
        return shown["restarts"] >= 1 and now > first

    await until(restarted, "a health-driven restart")
    seen: dict[str, dict] = {}
    async with asyncio.timeout(30):
        while not {"service:health:changed", "health:alert", "service:restarted"} <= set(seen):
            message = await socket.receive_json()
            if (message.get("data") or {}).get("service") == "sick":
                seen.setdefault(message["type"], message["data"])
    assert seen["service:health:changed"]["status"] == "unhealthy"
    report = await call(homei, "GET", "/api/v1/health/services", headers)
    assert report["status"] == "degraded"
    assert {s["name"]: s for s in report["services"]}["sick"]["details"]["checks"][
        "tcp"
    ] == "failed"
    await socket.close()


async def test_a_failing_service_is_not_restarted_again_within_its_backoff(engine, make_homei):
    homei = await make_homei(settings_for(engine, restart_backoff=600.0), parts=frozenset())
    try:
        headers = await homei.auth()
        health = {
            "checks": [{"type": "tcp", "port": 8080}],  # nothing listens: every check fails
            "interval": "0.3s",
            "start_period": "0s",
            "restart_after": 2,
        }
        await install(homei, headers, sleeper("sick", health=health))

        async def restarts() -> int:
            return (await call(homei, "GET", "/api/v1/services/sick", headers))["restarts"]

        async def failures() -> int:
            report = await call(homei, "GET", "/api/v1/health/services", headers)
            return {s["name"]: s for s in report["services"]}["sick"]["failures"]

        await until(restarts, "the first health-driven restart")
        # A restart sets the count back to 0: twice `restart_after` is reached only while
        # the back-off holds the next restart back.
        await until(lambda: _at_least(failures(), 4), "failures to pile up in the back-off")
        assert await restarts() == 1
    finally:
        await homei.client.close()
        await asyncio.to_thread(engine.remove_containers, "io.homei.managed")


async def _at_least(value, floor: int) -> bool:
    return await value >= floor


async def test_http_check_healthy_logs_follow_and_metrics(homei, engine):
    headers = await homei.auth()
    health = {"checks": [{"type": "http", "port": 8080, "path": "/index.html"}], "interval": "0.3s"}
    await install(homei, headers, httpd("site", health=health))

    async def healthy() -> bool:
        shown = await call(homei, "GET", "/api/v1/services/site", headers)
        return shown["health"]["status"] == "healthy"

    await until(healthy, "the HTTP check to pass")
    overall = await call(homei, "GET", "/health", {})
    assert overall["services"] == {"total": 1, "healthy": 1, "unhealthy": 0, "stopped": 0}
    scrape = await homei.client.get("/metrics", headers=headers)
    text = await scrape.text()
    assert 'homei_services_total{enabled="true"} 1.0' in text
    assert 'homei_services_health{status="healthy"} 1.0' in text
    token = await homei.token()
    follow = await homei.client.ws_connect(f"/ws/services/site/logs?token={token}&tail=0")
    marker = f"marker-{time.monotonic_ns()}"
    await asyncio.to_thread(
        docker, engine, "exec", "site", "sh", "-c", f"echo {marker} > /proc/1/fd/1"
    )
    async with asyncio.timeout(30):
        while True:
            message = await follow.receive()
            assert message.type == aiohttp.WSMsgType.TEXT, message
            if marker in message.data:
                break
    await follow.close()
    logs = await call(homei, "GET", "/api/v1/services/site/logs?tail=5", headers)
    assert any(marker in e["message"] and e["stream"] == "stdout" for e in logs["logs"])
    assert all(e["timestamp"] for e in logs["logs"])

    # A static httpd's whole footprint can be page cache, which Docker (like `docker stats`)
    # leaves out of the figure: hold 4 MB of anonymous memory in the container so it counts.
    await asyncio.to_thread(
        docker, engine, "exec", "-d", "site", "sh", "-c",
        "x=$(head -c 4000000 /dev/zero | tr '\\0' a); sleep 3600",
    )  # fmt: skip

    async def sampled() -> dict:
        body = await call(
            homei, "GET", "/api/v1/services/site/metrics?period=1h&resolution=1m", headers
        )
        return body if body["samples"] >= 1 and body["metrics"]["memory"]["current"] else None

    metrics = await until(sampled, "samples of the service")
    assert metrics["metrics"]["memory"]["current"] > 0
    assert metrics["metrics"]["cpu"]["data"][0]["timestamp"]
    status = await call(homei, "GET", "/api/v1/services/site/status", headers)
    assert status["status"] == "running" and status["uptime"] >= 0
    assert status["containers"][0]["memory"] > 0


async def test_docker_down_is_503_and_everything_comes_back(homei, engine):
    headers = await homei.auth()
    await install(homei, headers, sleeper("steady", restart_policy="always"))
    await asyncio.to_thread(engine.stop_engine)
    try:
        started = time.monotonic()
        down = await call(homei, "GET", "/api/v1/services", headers, 503)
        assert down["error"]["code"] == "DOCKER_ERROR"
        assert time.monotonic() - started < 3.0
        refused = await call(homei, "POST", "/api/v1/services", headers, 503, json=sleeper("x"))
        assert refused["error"]["code"] == "DOCKER_ERROR"
        deps = await call(homei, "GET", "/api/v1/health/dependencies", headers)
        assert deps["docker"]["status"] == "unhealthy"
    finally:
        await asyncio.to_thread(engine.start_engine)
    await until(lambda: running(engine, "steady"), "the service back after Docker restarted", 90)

    async def listed() -> bool:
        response = await homei.client.get("/api/v1/services", headers=headers)
        return response.status == 200 and (await response.json())["services"][0]["status"] == (
            "running"
        )

    await until(listed, "the services API answering again")
    # Homei reconciles on its own once Docker is back: a container removed now returns.
    await asyncio.to_thread(docker, engine, "rm", "-f", "steady")
    await until(lambda: running(engine, "steady"), "the reconciler at work again")
