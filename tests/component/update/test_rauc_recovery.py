"""RAUC and its bus going away and coming back: the update routes answer 503 while they are
gone and recover within seconds of their return, not on a slow redial timer."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.rauc_env import rauc_available

pytestmark = pytest.mark.skipif(not rauc_available(), reason="RAUC is not installed")

#: Recovery is about a second; the bound is generous for a loaded machine, and far below
#: the 30 s redial timer this replaced.
RECOVERY_S = 10.0


async def status_code(homei, headers) -> tuple[int, str]:
    response = await homei.client.get("/api/v1/update/status", headers=headers)
    body = await response.json()
    return response.status, (body.get("error") or {}).get("message", "")


async def wait_for_status(homei, headers, wanted: int, within: float = RECOVERY_S) -> str:
    """Poll `/update/status` until it answers `wanted`; its error message (if any)."""
    began = time.monotonic()
    status, message = await status_code(homei, headers)
    while status != wanted:
        assert time.monotonic() - began < within, f"still {status} ({message})"
        await asyncio.sleep(0.05)
        status, message = await status_code(homei, headers)
    return message


async def test_rauc_restarted_is_served_again_within_seconds(homei, device):
    headers = await homei.auth()
    await asyncio.to_thread(device.kill_service)
    assert "RAUC is not running" in await wait_for_status(homei, headers, 503)
    deps = await (await homei.client.get("/api/v1/health/dependencies", headers=headers)).json()
    assert deps["rauc"]["status"] == "unhealthy"
    await asyncio.to_thread(device.restart_service)
    await wait_for_status(homei, headers, 200)


async def test_the_bus_daemon_restarted_is_followed_within_seconds(homei, device):
    headers = await homei.auth()
    socket = device.bus_address.split(",")[0]  # the daemon's guid changes, its socket not
    await asyncio.to_thread(device.down)
    assert "No system bus" in await wait_for_status(homei, headers, 503)
    # Away for 15 s: a back-off doubling from 2 s (to 30 s) has its next redial 15 s after
    # the bus returns, a redial every second finds it at once.
    began = time.monotonic()
    while time.monotonic() - began < 15.0:
        assert (await status_code(homei, headers))[0] == 503
        await asyncio.sleep(0.5)
    await asyncio.to_thread(device.up)
    assert device.bus_address.split(",")[0] == socket  # the same socket, as on a device
    await wait_for_status(homei, headers, 200)
