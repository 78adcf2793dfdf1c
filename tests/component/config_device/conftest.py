"""Reload and rotation on a real Docker engine: one private dockerd per module, a Homei per
test (restartable on the same data) whose secret files go to a folder of its own and that
looks at rotation schedules often."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.component.services.env import settings_for
from tests.conftest import Homei, HomeiFactory
from tests.docker_env import DockerEngine

StartHomei = Callable[[], Awaitable[Homei]]


@pytest.fixture
async def start_homei(
    engine: DockerEngine, make_homei: HomeiFactory, tmp_path: Path
) -> AsyncIterator[StartHomei]:
    """Starts a Homei on the test's data folder: again after a stop, on the same data."""
    secrets = tmp_path / "run-secrets"
    extra = f'secrets_dir = "{secrets}"\n[rotation]\ncheck_interval = 0.2\n'

    async def start() -> Homei:
        return await make_homei(settings_for(engine, extra), parts=frozenset())  # type: ignore[no-any-return]

    yield start
    await asyncio.to_thread(engine.remove_containers, "io.homei.managed")


@pytest.fixture
async def homei(start_homei: StartHomei, engine: DockerEngine) -> AsyncIterator[Homei]:
    homei = await start_homei()
    yield homei
    await homei.client.close()  # first, or its reconciler would bring the containers back
    await asyncio.to_thread(engine.remove_containers, "io.homei.managed")
