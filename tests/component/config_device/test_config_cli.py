"""`homei config ...` against a real daemon on a real Docker engine."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.component.services.env import sleeper
from tests.component.test_cli import homei_cli
from tests.daemon_process import HomeiProcess, start_homei
from tests.docker_env import DockerEngine


@pytest.fixture(scope="module")
def cli_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HomeiProcess, Path]]:
    docker = DockerEngine(tmp_path_factory.mktemp("docker")).up()
    try:
        docker.make_image()
        home = tmp_path_factory.mktemp("homei")
        process = start_homei(
            home,
            HOMEI_DOCKER__URL=docker.host,
            HOMEI_DOCKER__REQUIRED="true",
            HOMEI_SERVICES__SECRETS_DIR=str(home / "run-secrets"),
        )
        try:
            yield process, home
        finally:
            process.stop()
    finally:
        docker.down()


def _cli(home: Path, *args: str, stdin: str = "") -> Any:
    done = homei_cli(home, *args, "--json", stdin=stdin)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _install(daemon: HomeiProcess, token: str) -> None:
    spec = sleeper("app", config_schema={"API_KEY": {"secret": True}})
    status, accepted = daemon.request("POST", "/api/v1/services", spec, token)
    assert status == 202, accepted
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        _, task = daemon.request("GET", f"/api/v1/tasks/{accepted['taskId']}", token=token)
        if task["status"] in ("completed", "failed"):
            assert task["status"] == "completed", task
            return
        time.sleep(0.1)
    raise AssertionError("the install did not finish")


def test_device_and_service_configuration_from_the_command_line(
    cli_daemon: tuple[HomeiProcess, Path],
) -> None:
    daemon, home = cli_daemon
    login = homei_cli(
        home, "login", "--url", daemon.url, "--password-stdin", stdin=f"{daemon.admin_password}\n"
    )
    assert login.returncode == 0, login.stderr

    changed = _cli(home, "config", "device", "log_level=debug", "variables.MEDIA_PATH=/srv")
    assert changed["changed"] == ["device.variables", "log_level"]
    device = _cli(home, "config", "device")
    assert device["orchestrator"]["log_level"] == "debug"
    assert device["variables"] == {"MEDIA_PATH": "/srv"}
    refused = homei_cli(home, "config", "device", "data_dir=/elsewhere")
    assert refused.returncode == 1 and "applies only at start" in refused.stderr

    _install(daemon, daemon.login())
    written = _cli(home, "config", "set", "app", "TZ=UTC", "--secret", "API_KEY=first")
    assert written["version"] == 1 and written["secrets"] == {"API_KEY": "***REDACTED***"}
    shown = _cli(home, "config", "get", "app", "--secrets")
    assert shown["variables"] == {"TZ": "UTC"} and shown["secrets"] == {"API_KEY": "first"}

    exported = homei_cli(home, "config", "export", "app", "--format", "env")
    assert exported.returncode == 0 and "TZ=UTC" in exported.stdout
    assert "first" not in exported.stdout
    # The export edited and imported back: its redacted secret keeps its value.
    edited = exported.stdout.replace("TZ=UTC", "TZ=Europe/Paris")
    imported = _cli(home, "config", "import", "app", "-", stdin=edited)
    assert imported["variables"] == {"TZ": "Europe/Paris"} and imported["version"] == 2

    rotated = _cli(home, "config", "rotate", "app", "API_KEY", "--value-stdin", stdin="second\n")
    assert rotated["rotated"] is True and rotated["version"] == 3
    scheduled = _cli(home, "config", "rotate", "app", "API_KEY", "--every", "30")
    assert scheduled["intervalDays"] == 30
    assert _cli(home, "config", "get", "app", "--secrets")["secrets"] == {"API_KEY": "second"}

    reloaded = _cli(home, "config", "reload", "app")
    assert reloaded["status"] == "completed" and reloaded["result"]["method"] == "recreate"
    missing = homei_cli(home, "config", "get", "nosuch")
    assert missing.returncode == 1 and "SERVICE_NOT_FOUND" in missing.stderr
