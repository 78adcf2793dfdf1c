"""Fleet rollouts end to end: gooseBit (a real hawkBit DDI server) offers a signed bundle,
Homei on the development device (real RAUC on its private D-Bus) polls, downloads, installs
and reports; gooseBit's own view of the device is what the tests check."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.component.fleet.conftest import goosebit_toml, needs_rauc
from tests.component.fleet.cutting_proxy import CuttingProxy
from tests.component.update.env import Reboots, wait_until
from tests.goosebit_env import GooseBit, GooseBitClient
from tests.rauc_env import RaucDevice

pytest.importorskip("homei.fleet.deploy", reason="the fleet client is not built yet")

from homei.update.gate import GateSettings, GateVerdict, HealthGate

pytestmark = needs_rauc
TIMEOUT = 60.0


async def eventually(
    probe: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], what: str
) -> Any:
    """Ask `probe` until `check` holds of its answer; the last answer on failure."""
    last: Any = None
    try:
        async with asyncio.timeout(TIMEOUT):
            while not check(last := await probe()):
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"waited {TIMEOUT}s for {what}; last seen: {last}") from None
    return last


async def offer(
    client: GooseBitClient, rauc: RaucDevice, device_id: str, version: str, **broken: Any
) -> Path:
    """Build a bundle, upload it to gooseBit and assign it to `device_id`; its path."""
    bundle = await asyncio.to_thread(rauc.make_bundle, version, **broken)
    software = await client.upload(bundle.path)
    # Registered beforehand: gooseBit makes an unknown device wait 10 s before offering.
    await client.register(device_id, bundle.compatible)
    await client.assign(device_id, software)
    return bundle.path


def installed_into_b(rauc: RaucDevice) -> Callable[[], bool]:
    return lambda: rauc.bootloader_state()["primary"] == "B"


async def start_homei(make_homei, rauc: RaucDevice, tmp_path: Path, server: str, device_id: str):
    return await make_homei(goosebit_toml(rauc, tmp_path / "updates", server, device_id))


async def test_a_good_rollout_is_reported_success_only_after_the_gate_passes(
    make_homei, device: RaucDevice, goosebit_client: GooseBitClient, goosebit: GooseBit,
    device_id: str, tmp_path: Path,
) -> None:  # fmt: skip
    await offer(goosebit_client, device, device_id, "2.0.0")
    homei = await start_homei(make_homei, device, tmp_path, goosebit.url, device_id)

    await wait_until(lambda: installed_into_b(device)(), TIMEOUT)
    seen = await goosebit_client.device(device_id)
    assert seen["last_state"] == "Running", seen  # installed is not done: the gate decides

    # Play the reboot into B, as the update tests do; still no verdict until the gate runs.
    await asyncio.to_thread(device.restart_service, "B")
    updates = homei.components.updates
    await wait_until(lambda: updates.is_available and updates.rauc.boot_slot == "B", TIMEOUT)
    assert (await goosebit_client.device(device_id))["last_state"] == "Running"

    gate = HealthGate(
        updates,
        homei.components.events,
        str(homei.client.make_url("/health/ready")),
        Reboots(),
        GateSettings(window=5.0, interval=0.1, passes=3, rauc_wait=10),
    )
    assert await gate.run() is GateVerdict.GOOD
    done = await eventually(
        lambda: goosebit_client.device(device_id),
        lambda d: d and d["last_state"] == "Finished",
        "gooseBit to hear success",
    )
    assert done["sw_version"] == "2.0.0" and done["progress"] == 100


async def test_a_bundle_rauc_rejects_is_reported_failure_with_raucs_reason(
    make_homei, device: RaucDevice, goosebit_client: GooseBitClient, goosebit: GooseBit,
    device_id: str, tmp_path: Path,
) -> None:  # fmt: skip
    await offer(goosebit_client, device, device_id, "2.1.0", signer="other")
    await start_homei(make_homei, device, tmp_path, goosebit.url, device_id)
    await eventually(
        lambda: goosebit_client.device(device_id),
        lambda d: d and d["last_state"] == "Error",
        "gooseBit to hear failure",
    )
    log = (await goosebit_client.device_log(device_id))["log"]
    assert "unable to get local issuer certificate" in log
    state = await asyncio.to_thread(device.bootloader_state)
    assert state["primary"] == "A" and state["states"]["B"] == "good"


async def test_a_download_cut_midway_is_resumed(
    make_homei, device: RaucDevice, goosebit_client: GooseBitClient, goosebit: GooseBit,
    device_id: str, tmp_path: Path,
) -> None:  # fmt: skip
    bundle = await offer(goosebit_client, device, device_id, "2.2.0")
    size = bundle.stat().st_size
    proxy = await CuttingProxy(goosebit.url, cut_after=size // 2).start()
    try:
        await start_homei(make_homei, device, tmp_path, proxy.url, device_id)
        await wait_until(lambda: installed_into_b(device)(), TIMEOUT)
        assert proxy.cuts == 1
        # The second request picks up where the cut left it, not from the first byte.
        assert proxy.ranges[0] == "" and proxy.ranges[1].startswith("bytes=")
        assert int(proxy.ranges[1].removeprefix("bytes=").rstrip("-")) > 0
    finally:
        await proxy.stop()


async def test_an_artefact_with_a_wrong_checksum_is_refused_and_deleted(
    make_homei, device: RaucDevice, goosebit_client: GooseBitClient, goosebit: GooseBit,
    device_id: str, tmp_path: Path,
) -> None:  # fmt: skip
    bundle = await offer(goosebit_client, device, device_id, "2.3.0")
    stored = goosebit.stored_artefact(bundle.name)
    data = bytearray(await asyncio.to_thread(stored.read_bytes))
    data[len(data) // 2] ^= 0xFF
    await asyncio.to_thread(stored.write_bytes, bytes(data))

    await start_homei(make_homei, device, tmp_path, goosebit.url, device_id)
    await eventually(
        lambda: goosebit_client.device(device_id),
        lambda d: d and d["last_state"] == "Error",
        "gooseBit to hear the refusal",
    )
    assert "sha1" in (await goosebit_client.device_log(device_id))["log"]
    state = await asyncio.to_thread(device.bootloader_state)
    assert state["primary"] == "A"
    leftovers = await asyncio.to_thread(lambda: list((tmp_path / "updates").glob("*")))
    assert not [p for p in leftovers if p.is_file()], leftovers


async def test_a_server_down_and_back_touches_nothing_and_shows_in_dependencies(
    make_homei, device: RaucDevice, goosebit_client: GooseBitClient, goosebit: GooseBit,
    device_id: str, tmp_path: Path,
) -> None:  # fmt: skip
    await goosebit_client.register(device_id, "homei-dev")
    homei = await start_homei(make_homei, device, tmp_path, goosebit.url, device_id)
    headers = await homei.auth()

    async def fleet_dependency() -> dict[str, Any] | None:
        response = await homei.client.get("/api/v1/health/dependencies", headers=headers)
        assert response.status == 200, await response.text()
        body = await response.json()
        entries = body.get("dependencies", body) if isinstance(body, dict) else body
        if isinstance(entries, dict):
            entries = [{"name": k, **v} for k, v in entries.items()]
        return next((e for e in entries if "fleet" in str(e.get("name", ""))), None)

    def healthy(entry: dict[str, Any] | None) -> bool:
        return bool(entry) and entry.get("status") in ("healthy", "ok", "up")  # type: ignore[union-attr]

    await eventually(fleet_dependency, healthy, "the fleet dependency to be healthy")
    before = await asyncio.to_thread(device.bootloader_state)
    await asyncio.to_thread(goosebit.stop)
    try:
        down = await eventually(
            fleet_dependency, lambda e: e is not None and not healthy(e), "it to show the outage"
        )
        assert down.get("critical") in (None, False)
    finally:
        await asyncio.to_thread(goosebit.start)
    await eventually(fleet_dependency, healthy, "the fleet dependency to be healthy again")
    assert await asyncio.to_thread(device.bootloader_state) == before
