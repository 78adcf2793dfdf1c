"""Configuration on a real Docker engine: one private dockerd per module, a Homei per test
whose secret files go to a folder of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.component.services.env import settings_for
from tests.conftest import Homei, HomeiFactory
from tests.docker_env import DockerEngine


@pytest.fixture
async def homei(
    engine: DockerEngine, make_homei: HomeiFactory, tmp_path: Path
) -> AsyncIterator[Homei]:
    secrets = tmp_path / "run-secrets"
    homei = await make_homei(
        settings_for(engine, f'secrets_dir = "{secrets}"\n'), parts=frozenset()
    )
    yield homei
    await homei.client.close()  # first, or its reconciler would bring the containers back
    await asyncio.to_thread(engine.remove_containers, "io.homei.managed")
