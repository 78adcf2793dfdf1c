"""Native services against a real systemd: one private dockerd and one systemd container
(tests/systemd_env.py) per session, and a Homei per test driving both."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.component.services.env import settings_for
from tests.conftest import ROOT
from tests.docker_env import DockerEngine
from tests.systemd_env import SystemdContainer


@pytest.fixture(scope="session")
def shared_dir() -> Iterator[Path]:
    """The folder host and container share at the same path. Not under /tmp: a unit's
    PrivateTmp= would hide its program there."""
    folder = ROOT / "var" / "systemd" / f"run-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    docker = DockerEngine(tmp_path_factory.mktemp("docker")).up()
    try:
        docker.make_image()
        yield docker
    finally:
        docker.down()


@pytest.fixture(scope="session")
def systemd(
    engine: DockerEngine, shared_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SystemdContainer]:
    box = SystemdContainer(engine, tmp_path_factory.mktemp("systemd"), shared=[shared_dir]).up()
    try:
        yield box
    finally:
        box.down()


@pytest.fixture
def more_settings() -> tuple[str, dict[str, str]]:
    """Settings (TOML, environment) a test module adds to its Homei's; none by default."""
    return "", {}


@pytest.fixture
def homei_parts() -> frozenset[str]:
    """The optional parts of Homei a test module runs (none by default)."""
    return frozenset()


@pytest.fixture
async def homei(
    make_homei,
    engine: DockerEngine,
    systemd: SystemdContainer,
    shared_dir: Path,
    more_settings: tuple[str, dict[str, str]],
    homei_parts: frozenset[str],
):
    """A Homei on this engine and this systemd; the units it leaves are removed after."""
    extra = (
        f'[units]\ndbus_address = "{systemd.bus_address}"\n'
        f'unit_dir = "{systemd.unit_dir}"\nartifacts_dir = "{shared_dir / "artifacts"}"\n'
        f'job_timeout = 30\nstate_dir = "{systemd.state_dir}"\n'
    )
    toml, environment = more_settings
    homei = await make_homei(settings_for(engine, extra + toml), parts=homei_parts, **environment)
    units = homei.components.units
    await until_available(units)
    yield homei
    await homei.client.close()
    await asyncio.to_thread(engine.remove_containers, "io.homei.managed")
    for unit in systemd.unit_dir.glob("homei-svc-*.service"):
        await asyncio.to_thread(systemd.systemctl, "disable", "--now", unit.name, check=False)
        unit.unlink()
    await asyncio.to_thread(systemd.systemctl, "daemon-reload")


async def until_available(units) -> None:
    async with asyncio.timeout(30):
        while not units.systemd.available:
            await asyncio.sleep(0.05)
