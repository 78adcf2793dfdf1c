"""Homei against the real RAUC service on a private D-Bus (tests/rauc_env.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.component.update.env import wait_until
from tests.conftest import NO_DOCKER, RATE_LIMITS_OPEN
from tests.rauc_env import RaucDevice


@pytest.fixture
async def device(tmp_path: Path):
    rauc = RaucDevice(tmp_path / "device")
    await asyncio.to_thread(rauc.up)
    yield rauc
    await asyncio.to_thread(rauc.down)


@pytest.fixture
async def homei(device: RaucDevice, make_homei, tmp_path: Path):
    # `device` first: it must outlive the daemon that talks to it.
    toml = (
        RATE_LIMITS_OPEN
        + NO_DOCKER
        + (
            f'[update]\ndbus_address = "{device.bus_address}"\n'
            f'updates_dir = "{tmp_path / "updates"}"\n'
        )
    )
    homei = await make_homei(toml)
    await wait_until(lambda: homei.components.updates.is_available)
    return homei
