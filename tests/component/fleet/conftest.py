"""Homei with its fleet client, the real RAUC on a private D-Bus (tests/rauc_env.py), and
the DDI servers it talks to: a test double, or a real gooseBit (tests/goosebit_env.py)
shared by the session."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.component.fleet.ddi_double import TOKEN, DdiDouble
from tests.component.update.env import wait_until
from tests.conftest import NO_DOCKER, RATE_LIMITS_OPEN
from tests.goosebit_env import TENANT, GooseBit, GooseBitClient
from tests.rauc_env import RaucDevice, rauc_available


@pytest.fixture
async def server():
    double = await DdiDouble().start()
    yield double
    await double.stop()


@pytest.fixture
async def device(tmp_path: Path):
    rauc = RaucDevice(tmp_path / "device")
    await asyncio.to_thread(rauc.up)
    yield rauc
    await asyncio.to_thread(rauc.down)


def fleet_toml(server: DdiDouble, **more: str) -> str:
    lines = [
        "[fleet]",
        "enabled = true",
        f'url = "{server.url}"',
        f'token = "{TOKEN}"',
        'controller_id = "device-1"',
        "poll_min = 0.1",
        "poll_max = 2.0",
        *(f"{key} = {value}" for key, value in more.items()),
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
async def homei(device: RaucDevice, server: DdiDouble, make_homei, tmp_path: Path):
    toml = (
        RATE_LIMITS_OPEN
        + NO_DOCKER
        + f'[update]\ndbus_address = "{device.bus_address}"\n'
        + f'updates_dir = "{tmp_path / "updates"}"\n'
        + fleet_toml(server)
    )
    homei = await make_homei(toml)
    await wait_until(lambda: homei.components.updates.is_available)
    return homei


@pytest.fixture(scope="session")
def goosebit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GooseBit]:
    """One gooseBit on loopback for the session (SQLite in a temp folder)."""
    server = GooseBit(tmp_path_factory.mktemp("goosebit")).start()
    yield server
    server.stop()


@pytest.fixture
def goosebit_client(goosebit: GooseBit) -> GooseBitClient:
    """A client of gooseBit's management API and DDI."""
    return GooseBitClient(goosebit.url)


@pytest.fixture
def device_id(request: pytest.FixtureRequest) -> str:
    """A controller id of its own per test, so the tests share one gooseBit."""
    name = request.node.name
    tag = hashlib.sha256(name.encode()).hexdigest()[:6]  # names may share their first words
    return f"homei-{name.removeprefix('test_')[:40].replace('_', '-')}-{tag}"


needs_rauc = pytest.mark.skipif(not rauc_available(), reason="needs Debian's rauc")


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's bundles and their signing CA are made."""
    return tmp_path_factory.mktemp("fleet-bundles")


def goosebit_toml(rauc: RaucDevice, updates: Path, server: str, controller_id: str) -> str:
    """Settings for a Homei on the development device that takes its updates from `server`
    (gooseBit, or a proxy in front of it)."""
    return (
        RATE_LIMITS_OPEN
        + NO_DOCKER
        + f'[update]\ndbus_address = "{rauc.bus_address}"\nupdates_dir = "{updates}"\n'
        + f'[fleet]\nenabled = true\nurl = "{server}"\ntenant = "{TENANT}"\n'
        + f'controller_id = "{controller_id}"\npoll_min = 0.2\nrequest_timeout = 5.0\n'
    )
