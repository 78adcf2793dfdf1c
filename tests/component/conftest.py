"""A Homei running as its own process, for tests whose clients block (schemathesis, Playwright):
they must not share an event loop with the server they call."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from tests.daemon_process import START_DEADLINE, HomeiProcess, start_homei
from tests.docker_env import IMAGE, DockerEngine
from tests.rauc_env import RaucDevice


@dataclass(frozen=True)
class LiveHomei:
    """The address of a `homei serve` child process and an admin's access token."""

    url: str
    token: str
    process: HomeiProcess
    device: RaucDevice | None = None  # its RAUC, to make bundles it accepts


def wait_until_ready(url: str, deadline: float = START_DEADLINE) -> None:
    """Poll `/health/ready` until it answers 200; AssertionError after `deadline` seconds."""
    give_up = time.monotonic() + deadline
    last: object = None
    while time.monotonic() < give_up:
        try:
            with urllib.request.urlopen(f"{url}/health/ready", timeout=5) as response:
                if response.status == 200:
                    return
                last = response.status
        except (urllib.error.URLError, OSError) as err:
            last = err
        time.sleep(0.05)
    raise AssertionError(f"{url}/health/ready did not answer 200 within {deadline}s: {last}")


@contextmanager
def live_homei(tmp_path_factory: pytest.TempPathFactory, **environ: str) -> Iterator[LiveHomei]:
    """`homei serve` on a development device (its own RAUC on a private bus and its own
    Docker engine, so every route works for real), rate limits and the failed-login delay
    off, stopped (SIGTERM) at the end; `environ` adds settings."""
    device = RaucDevice(tmp_path_factory.mktemp("device")).up()
    docker = DockerEngine(tmp_path_factory.mktemp("docker")).up()
    try:
        docker.make_image()
        docker.run("run", "-d", "--name", "resident", IMAGE, "sleep", "3600")
        process = start_homei(
            tmp_path_factory.mktemp("homei"),
            HOMEI_RATE_LIMITS__ENABLED="false",
            HOMEI_AUTH__LOGIN_FREE_ATTEMPTS="1000000",
            HOMEI_UPDATE__DBUS_ADDRESS=device.bus_address,
            HOMEI_UPDATE__REBOOT_ON_FAILURE="false",
            HOMEI_DOCKER__URL=docker.host,
            HOMEI_DOCKER__REQUIRED="true",
            **environ,
        )
        try:
            wait_until_ready(process.url)
            wait_until_rauc(process)
            yield LiveHomei(process.url, process.login(), process, device)
        finally:
            process.stop()
    finally:
        docker.down()
        device.down()


@pytest.fixture(scope="module")
def homei_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHomei]:
    """One live Homei on a development device per test module (see `live_homei`)."""
    with live_homei(tmp_path_factory) as live:
        yield live


def wait_until_rauc(process: HomeiProcess, deadline: float = START_DEADLINE) -> None:
    """Poll `/health/detailed` until the daemon sees RAUC."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        status, body = process.request("GET", "/health/detailed")
        if status == 200 and body["dependencies"]["rauc"]["status"] == "healthy":
            return
        time.sleep(0.05)
    raise AssertionError(f"Homei did not reach RAUC within {deadline}s:\n{process.log()}")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    """A private Docker engine per test module, with the locally made test image."""
    docker = DockerEngine(tmp_path_factory.mktemp("docker")).up()
    try:
        docker.make_image()
        yield docker
    finally:
        docker.down()
