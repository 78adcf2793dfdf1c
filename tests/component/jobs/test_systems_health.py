"""The background health check against real sshd: a system that answers turns healthy, one
whose server went away turns unhealthy, each with the time it was checked."""

from __future__ import annotations

import asyncio
import time

from homei.jobs.systems import SystemChanges
from tests.component.jobs.conftest import SYSTEMS_TOML
from tests.ssh_env import TEST_PASSWORD, TEST_USER

FREQUENT_CHECKS = SYSTEMS_TOML.replace(
    "health_checks = false", "health_checks = true\nhealth_interval = 0.2"
)


async def until(condition, timeout: float = 20.0) -> None:
    give_up = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < give_up, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_health_follows_the_server(make_homei, sshd_env):
    homei = await make_homei(FREQUENT_CHECKS)
    parts = homei.components.systems
    server = await asyncio.to_thread(sshd_env.start)
    changes = SystemChanges(name="watched", hostname="127.0.0.1", port=server.port,
                            username=TEST_USER, auth_method="password")  # fmt: skip
    system_id = "00000000-0000-4000-8000-000000000001"
    row = await parts.credentials.password_row(system_id, TEST_PASSWORD)
    await parts.systems.create(changes, row, system_id=system_id)
    idle = await parts.systems.create(
        SystemChanges(name="idle", hostname="127.0.0.1", port=1, username="x", is_active=False)
    )

    async def status(wanted: str) -> bool:
        return (await parts.systems.get(system_id)).health_status == wanted

    await until(lambda: status("healthy"))
    first = (await parts.systems.get(system_id)).last_health_check
    assert first is not None
    await asyncio.to_thread(server.stop)
    await until(lambda: status("unhealthy"))
    assert (await parts.systems.get(system_id)).last_health_check > first
    # An inactive system is not tried at all.
    assert (await parts.systems.get(idle.id)).last_health_check is None
