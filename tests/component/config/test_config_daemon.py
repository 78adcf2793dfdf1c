"""The configuration in a real `homei serve` on a real Docker engine: no secret value in the
daemon's log, its events, its tasks or its database file; and kill -9 during a stream of
PUTs leaves a whole version."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.component.services.env import sleeper
from tests.daemon_process import HomeiProcess, start_homei
from tests.docker_env import DockerEngine
from tests.processes import wait_for

# Values that appear nowhere but where they are put: any trace of them is a leak.
SECRETS = ("Zq7-first-secret-value-91", "Xk3-second-secret-value-27", "Wb5-refused-secret-44")
SCHEMA = {"API_KEY": {"secret": True, "required": True, "min": 8}, "TZ": {"type": "timezone"}}


@pytest.fixture
def daemon(engine: DockerEngine, tmp_path: Path) -> Iterator[HomeiProcess]:
    homei = start_homei(
        tmp_path,
        HOMEI_DOCKER__URL=engine.host,
        HOMEI_DOCKER__REQUIRED="true",
        HOMEI_SERVICES__SECRETS_DIR=str(tmp_path / "run-secrets"),
        HOMEI_RATE_LIMITS__ENABLED="false",
        HOMEI_LOG_LEVEL="debug",
    )
    try:
        yield homei
    finally:
        homei.stop()
        engine.remove_containers("io.homei.managed")


def until(condition: Any, what: str, timeout: float = 60) -> None:
    """Wait for a (blocking) condition, failing the test by name after `timeout`."""
    wait_for(condition, timeout, lambda: AssertionError(f"gave up waiting for {what}"))


def call(
    homei: HomeiProcess, method: str, path: str, token: str, body: Any = None, status: int = 200
) -> Any:
    got, answer = homei.request(method, path, body, token)
    assert got == status, (method, path, answer)
    return answer


def install(homei: HomeiProcess, token: str, body: dict[str, Any]) -> None:
    accepted = call(homei, "POST", "/api/v1/services", token, body, 202)
    until(
        lambda: (
            call(homei, "GET", f"/api/v1/tasks/{accepted['taskId']}", token)["status"]
            in ("completed", "failed")
        ),
        "the install",
    )
    task = call(homei, "GET", f"/api/v1/tasks/{accepted['taskId']}", token)
    assert task["status"] == "completed", task


async def collect_events(url: str, token: str, into: list[str], ready: asyncio.Event) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{url}/ws/events", headers={"Authorization": f"Bearer {token}"}) as ws,
    ):
        ready.set()
        async for message in ws:
            into.append(str(message.data))


async def test_no_secret_value_leaves_the_configuration(engine: DockerEngine, daemon) -> None:
    token = await asyncio.to_thread(daemon.login)
    events: list[str] = []
    ready = asyncio.Event()
    listener = asyncio.create_task(collect_events(daemon.url, token, events, ready))
    await asyncio.wait_for(ready.wait(), 30)
    try:
        await asyncio.to_thread(install, daemon, token, sleeper("vault", config_schema=SCHEMA))
        for secret in SECRETS[:2]:
            await asyncio.to_thread(
                call,
                daemon,
                "PUT",
                "/api/v1/config/vault",
                token,
                {"variables": {"TZ": "UTC"}, "secrets": {"API_KEY": secret}},
            )
        # Refused writes and checks answer without repeating the value either.
        refused = await asyncio.to_thread(
            call,
            daemon,
            "PUT",
            "/api/v1/config/vault",
            token,
            {"variables": {"API_KEY": SECRETS[2]}, "secrets": {}},
            400,
        )
        assert SECRETS[2] not in str(refused)
        verdict = await asyncio.to_thread(
            call,
            daemon,
            "POST",
            "/api/v1/config/validate",
            token,
            {"service": "vault", "variables": {"TZ": SECRETS[2]}, "secrets": {"API_KEY": "x"}},
        )
        assert verdict["valid"] is False and SECRETS[2] not in str(verdict)

        def sees_second() -> bool:
            run = engine.run("exec", "vault", "cat", "/run/secrets/API_KEY", check=False)
            return run.stdout == SECRETS[1]

        await asyncio.to_thread(until, sees_second, "the second secret in the container")
        opened = await asyncio.to_thread(
            call, daemon, "GET", "/api/v1/config/vault?includeSecrets=true", token
        )
        assert opened["secrets"] == {"API_KEY": SECRETS[1]}
        await asyncio.to_thread(
            until, lambda: any("config:updated" in e for e in events), "the event"
        )
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener

    tasks = await asyncio.to_thread(call, daemon, "GET", "/api/v1/tasks", token)
    details = [
        await asyncio.to_thread(call, daemon, "GET", f"/api/v1/tasks/{t['id']}", token)
        for t in tasks["tasks"]
    ]
    assert details  # the install, at least
    daemon.stop()
    database = b"".join(p.read_bytes() for p in sorted(daemon.data_dir.glob("homei.db*")))
    log = daemon.log()
    assert "config:updated" in "".join(events) and "vault" in log
    for secret in SECRETS:
        assert secret not in log
        assert secret.encode() not in database
        assert all(secret not in e for e in events)
        assert secret not in str(tasks) and secret not in str(details)


def test_kill_9_during_puts_leaves_a_whole_version(engine: DockerEngine, daemon, tmp_path) -> None:
    token = daemon.login()
    install(daemon, token, sleeper("steady", config_schema=SCHEMA))
    acknowledged: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            body = {
                "environment": "staging",
                "variables": {f"V{n}": str(i) for n in range(20)},
                "secrets": {"API_KEY": f"secret-number-{i}"},
            }
            try:
                status, _ = daemon.request("PUT", "/api/v1/config/steady", body, token)
            except OSError:
                return  # the daemon is gone
            if status == 200:
                acknowledged.append(i)

    writer = threading.Thread(target=hammer)
    writer.start()
    until(lambda: len(acknowledged) >= 15, "15 acknowledged PUTs")
    daemon.process.kill()
    daemon.process.wait()
    stop.set()
    writer.join(30)
    daemon.notify.close()

    again = start_homei(
        tmp_path,
        HOMEI_DOCKER__URL=engine.host,
        HOMEI_SERVICES__SECRETS_DIR=str(tmp_path / "run-secrets"),
    )
    try:
        token = again.login()
        config = call(
            again, "GET", "/api/v1/config/steady?environment=staging&includeSecrets=true", token
        )
        values = set(config["variables"].values())
        assert len(config["variables"]) == 20 and len(values) == 1, config["variables"]
        (number,) = values
        assert config["secrets"] == {"API_KEY": f"secret-number-{number}"}
        # Every acknowledged PUT survived; at most the one in flight did too.
        assert int(number) in (acknowledged[-1], acknowledged[-1] + 1)
        assert config["version"] == int(number)
    finally:
        again.stop()
