"""`GET/PUT /api/v1/config` against a real `homei serve`: a change is checked as a whole,
applied at once (the log level and a rate limit observed), announced, and still there after
a restart; settings read only at start are refused with a message that says so."""

from __future__ import annotations

import asyncio
import json
import socket
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.daemon_process import HomeiProcess, start_homei
from tests.processes import wait_for


@pytest.fixture(scope="module")
def daemon_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("homei")


ENVIRONMENT = {"HOMEI_AUTH__LOGIN_FREE_ATTEMPTS": "1000", "HOMEI_RATE_LIMITS__HEALTH": "1000"}


@pytest.fixture(scope="module")
def daemon(daemon_dir: Path) -> Iterator[HomeiProcess]:
    process = start_homei(daemon_dir, **ENVIRONMENT)
    try:
        yield process
    finally:
        process.stop()


def _settings_file(directory: Path) -> dict[str, Any]:
    return tomllib.loads((directory / "none.toml").read_text())


def test_bad_and_start_only_keys_are_each_named_and_nothing_changes(
    daemon: HomeiProcess, daemon_dir: Path
) -> None:
    token = daemon.login()
    before = (daemon_dir / "none.toml").read_text()
    status, body = daemon.request(
        "PUT",
        "/api/v1/config",
        {
            "orchestrator": {
                "log_level": "loud",
                "data_dir": "/elsewhere",
                "api": {"listen": "0.0.0.0:9"},
                "rate_limits": {"anonymous": 0, "bogus": 1},
                "version": "9",
            },
            "domain": "device.example.com",
        },
        token,
    )
    assert status == 400, body
    assert body["error"]["code"] == "CONFIG_ERROR"
    problems = {f["path"]: f["message"] for f in body["error"]["details"]["fields"]}
    assert set(problems) == {
        "log_level",
        "data_dir",
        "api.listen",
        "rate_limits.anonymous",
        "rate_limits.bogus",
        "version",
    }
    assert "applies only at start" in problems["data_dir"]
    assert "applies only at start" in problems["api.listen"]
    assert problems["rate_limits.bogus"] == "unknown setting"
    assert problems["version"] == "read-only"
    assert "api.listen" in body["error"]["message"]
    # Refused as a whole: the good key in the same request was not applied either.
    assert (daemon_dir / "none.toml").read_text() == before
    status, config = daemon.request("GET", "/api/v1/config", token=token)
    assert status == 200
    assert config["domain"] == ""
    assert config["orchestrator"]["log_level"] == "info"


def test_a_key_the_environment_sets_is_refused(daemon: HomeiProcess) -> None:
    status, body = daemon.request(
        "PUT", "/api/v1/config", {"orchestrator": {"rate_limits": {"health": 3}}},
        daemon.login(),
    )  # fmt: skip
    assert status == 400, body
    assert "HOMEI_RATE_LIMITS__HEALTH" in body["error"]["message"]
    status, body = daemon.request(
        "PUT", "/api/v1/config", {"orchestrator": {"rate_limits": {"admin": 5000}}},
        daemon.login(),
    )  # fmt: skip
    assert status == 200, body
    assert body["changed"] == ["rate_limits.admin"]


def _malformed_request(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"NOT-HTTP\r\n\r\n")
        sock.recv(4096)


def _anonymous_limit(url: str) -> tuple[str, int]:
    """The limit an anonymous request counts against, and its answer's status."""
    try:
        with urllib.request.urlopen(f"{url}/api/v1/status", timeout=10) as response:
            return response.headers["X-RateLimit-Limit"], response.status
    except urllib.error.HTTPError as err:
        return err.headers["X-RateLimit-Limit"], err.code


async def _change_and_watch(url: str, token: str, change: dict[str, Any]) -> tuple[Any, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(url) as session,
        session.ws_connect("/ws/events?types=system:*", headers=headers) as ws,
    ):
        await asyncio.wait_for(ws.receive_json(), 10)  # `connected`
        async with session.put("/api/v1/config", json=change, headers=headers) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()
        event = await asyncio.wait_for(ws.receive_json(), 10)
    return answer, event


def test_a_change_applies_at_once_and_survives_a_restart(
    daemon: HomeiProcess, daemon_dir: Path
) -> None:
    token = daemon.login()
    assert _anonymous_limit(daemon.url)[0] == "10"
    _malformed_request(daemon.port)
    assert "Malformed request" not in daemon.log()  # debug records are off at `info`

    change = {
        "orchestrator": {"log_level": "debug", "rate_limits": {"anonymous": 3}},
        "domain": "device.example.com",
        "variables": {"MEDIA_PATH": "/srv/media", "TZ": "Europe/Paris"},
    }
    answer, event = asyncio.run(_change_and_watch(daemon.url, token, change))
    assert answer["status"] == "updated"
    expected = ["device.domain", "device.variables", "log_level", "rate_limits.anonymous"]
    assert answer["changed"] == expected
    assert event["type"] == "system:config:changed"
    assert event["data"] == {"keys": expected, "actor": "admin"}

    # The log level: the same malformed request is now logged.
    _malformed_request(daemon.port)
    wait_for(
        lambda: "Malformed request" in daemon.log(),
        10,
        lambda: AssertionError(f"no debug record after the change:\n{daemon.log()}"),
    )
    # The rate limit: anonymous requests count against 3 now (logins used them up).
    assert _anonymous_limit(daemon.url) == ("3", 429)

    written = _settings_file(daemon_dir)
    assert written["log_level"] == "debug"
    assert written["rate_limits"]["anonymous"] == 3
    assert written["device"]["variables"] == {"MEDIA_PATH": "/srv/media", "TZ": "Europe/Paris"}

    daemon.stop()
    again = start_homei(daemon_dir, **ENVIRONMENT)
    try:
        status, config = again.request("GET", "/api/v1/config", token=again.login())
        assert status == 200, config
        assert config["orchestrator"]["log_level"] == "debug"
        assert config["orchestrator"]["rate_limits"]["anonymous"] == 3
        assert config["domain"] == "device.example.com"
        assert config["variables"] == {"MEDIA_PATH": "/srv/media", "TZ": "Europe/Paris"}
        assert json.dumps(config["orchestrator"]["api"]["port"]) == str(again.port)
    finally:
        again.stop()
