"""Routes in a real Caddy: one Caddy and one private dockerd per module, a Homei per test."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.caddy_env import SERVER, CaddyServer
from tests.component.services.env import settings_for
from tests.docker_env import DockerEngine


@pytest.fixture(scope="module")
def caddy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaddyServer]:
    server = CaddyServer(tmp_path_factory.mktemp("caddy")).up()
    try:
        yield server
    finally:
        server.down()


def proxy_settings(caddy: CaddyServer, server: str = SERVER) -> str:
    return (
        f'[proxy]\nadmin_url = "{caddy.admin_url}"\nserver_name = "{server}"\n'
        "reconcile_interval = 0.3\n"
    )


@pytest.fixture
async def homei(engine: DockerEngine, caddy: CaddyServer, make_homei):
    """A Homei on this engine keeping its routes in this Caddy."""
    if not caddy.answers():
        await asyncio.to_thread(caddy.up)
    homei = await make_homei(
        settings_for(engine, proxy_settings(caddy)), parts=frozenset(), HOMEI_PROXY__ENABLED="true"
    )
    yield homei
    await homei.client.close()
    await asyncio.to_thread(engine.remove_containers, "io.homei.managed")
    if caddy.answers():  # the next test starts from a Caddy without routes
        await asyncio.to_thread(caddy.admin, "DELETE", f"/config/apps/http/servers/{SERVER}/routes")
