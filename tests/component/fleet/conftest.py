"""Homei with its fleet client pointed at the DDI test double, and the real RAUC on a
private D-Bus (tests/rauc_env.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.component.fleet.ddi_double import TOKEN, DdiDouble
from tests.component.update.env import wait_until
from tests.conftest import NO_DOCKER, RATE_LIMITS_OPEN
from tests.rauc_env import RaucDevice


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
