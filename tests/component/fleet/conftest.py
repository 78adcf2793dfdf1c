"""The fleet tier: a real gooseBit (tests/goosebit_env.py) shared by the session."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import NO_DOCKER, RATE_LIMITS_OPEN
from tests.goosebit_env import TENANT, GooseBit, GooseBitClient
from tests.rauc_env import RaucDevice, rauc_available


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
    """A controller id of its own per test, so the tests share one server."""
    name = request.node.name
    tag = hashlib.sha256(name.encode()).hexdigest()[:6]  # names may share their first words
    return f"homei-{name.removeprefix('test_')[:40].replace('_', '-')}-{tag}"


needs_rauc = pytest.mark.skipif(not rauc_available(), reason="needs Debian's rauc")


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's bundles and their signing CA are made."""
    return tmp_path_factory.mktemp("fleet-bundles")


@pytest.fixture
async def rauc_device(tmp_path: Path) -> AsyncIterator[RaucDevice]:
    """The development device's RAUC on its private D-Bus, booted from A."""
    rauc = RaucDevice(tmp_path / "device")
    await asyncio.to_thread(rauc.up)
    yield rauc
    await asyncio.to_thread(rauc.down)


def fleet_toml(rauc: RaucDevice, updates: Path, server: str, controller_id: str) -> str:
    """Settings for a Homei on the development device that takes its updates from `server`."""
    return (
        RATE_LIMITS_OPEN
        + NO_DOCKER
        + f'[update]\ndbus_address = "{rauc.bus_address}"\nupdates_dir = "{updates}"\n'
        + f'[fleet]\nenabled = true\nurl = "{server}"\ntenant = "{TENANT}"\n'
        + f'controller_id = "{controller_id}"\npoll_min = 0.2\nrequest_timeout = 5.0\n'
    )
