"""App services on a real Docker engine: one private dockerd per test module, and a Homei
per test that leaves no managed container behind."""

from __future__ import annotations

import asyncio

import pytest

from tests.component.services.env import settings_for
from tests.docker_env import DockerEngine


@pytest.fixture
async def homei(request: pytest.FixtureRequest, engine: DockerEngine, make_homei):
    """A Homei on this engine that starts only what services need: no updates, and backups
    only for a module that asks for them (`HOMEI_PARTS`)."""
    parts = getattr(request.module, "HOMEI_PARTS", frozenset())
    homei = await make_homei(settings_for(engine), parts=parts)
    yield homei
    await homei.client.close()  # first, or its reconciler would bring the containers back
    await asyncio.to_thread(engine.remove_containers, "io.homei.managed")
    await asyncio.to_thread(engine.remove_containers, "io.homei.test")
