"""The fleet environment itself: gooseBit is up, takes a signed bundle, assigns it, and a
plain DDI client is offered a deploymentBase whose artefact is the bundle."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import aiohttp
import pytest

from tests.component.fleet.conftest import needs_rauc
from tests.component.fleet.cutting_proxy import CuttingProxy
from tests.goosebit_env import TENANT, GooseBit, GooseBitClient
from tests.rauc_env import RaucDevice


async def test_unknown_device_is_asked_for_config_data(
    goosebit: GooseBit, goosebit_client: GooseBitClient, device_id: str
) -> None:
    answer = await goosebit_client.poll(device_id)
    assert "configData" in answer["_links"]
    assert "deploymentBase" not in answer["_links"]
    await goosebit_client.register(device_id, "homei-dev", hw_revision="1")
    after = await goosebit_client.poll(device_id)
    assert after["_links"] == {}
    assert after["config"]["polling"]["sleep"] == goosebit.poll_time
    seen = await goosebit_client.device(device_id)
    assert seen["last_state"] == "Registered"
    assert seen["hardware"]["model"] == "homei-dev"


@needs_rauc
async def test_assigned_bundle_is_offered_and_downloads_whole(
    goosebit_client: GooseBitClient, device_id: str, bundles: Path
) -> None:
    rauc = RaucDevice(bundles / "signer")
    bundle = await asyncio.to_thread(rauc.make_bundle, "1.1.0", out=bundles / "env-1.1.0.raucb")
    software = await goosebit_client.upload(bundle.path)
    await goosebit_client.register(device_id, bundle.compatible)
    await goosebit_client.assign(device_id, software)

    poll = await goosebit_client.poll(device_id)
    base = await goosebit_client.get(poll["_links"]["deploymentBase"]["href"])
    assert base["deployment"]["update"] == "forced"
    (chunk,) = base["deployment"]["chunks"]
    assert chunk["version"] == "1.1.0"
    (artefact,) = chunk["artifacts"]
    data = await asyncio.to_thread(bundle.path.read_bytes)
    assert artefact["size"] == len(data)
    assert artefact["hashes"]["sha1"] == hashlib.sha1(data, usedforsecurity=False).hexdigest()

    href = artefact["_links"]["download"]["href"]
    assert href.startswith(f"{goosebit_client.url}/{TENANT}/controller/v1/{device_id}/")
    async with aiohttp.ClientSession() as session:
        async with session.get(href) as response:
            assert response.status == 200
            assert await response.read() == data
        # A lost connection resumes with a range request: the server must honour it.
        async with session.get(href, headers={"Range": f"bytes={len(data) - 100}-"}) as part:
            assert part.status == 206
            assert await part.read() == data[-100:]

    await goosebit_client.feedback(device_id, base["id"], "failure", ["rejected by the test"])
    seen = await goosebit_client.device(device_id)
    assert seen["last_state"] == "Error"
    assert (await goosebit_client.device_log(device_id))["log"].strip() == "rejected by the test"


@needs_rauc
async def test_cutting_proxy_cuts_the_first_download_once_and_resumes(
    goosebit_client: GooseBitClient, device_id: str, bundles: Path
) -> None:
    rauc = RaucDevice(bundles / "signer")
    bundle = await asyncio.to_thread(rauc.make_bundle, "1.2.0", out=bundles / "env-1.2.0.raucb")
    data = await asyncio.to_thread(bundle.path.read_bytes)
    software = await goosebit_client.upload(bundle.path)
    await goosebit_client.register(device_id, bundle.compatible)
    await goosebit_client.assign(device_id, software)

    proxy = await CuttingProxy(goosebit_client.url, cut_after=len(data) // 2).start()
    try:
        via_proxy = GooseBitClient(proxy.url)
        poll = await via_proxy.poll(device_id)
        base = await via_proxy.get(poll["_links"]["deploymentBase"]["href"])
        href = base["deployment"]["chunks"][0]["artifacts"][0]["_links"]["download"]["href"]
        assert href.startswith(proxy.url)
        received = bytearray()

        async def read_all(session: aiohttp.ClientSession) -> None:
            async with session.get(href) as response:
                async for chunk in response.content.iter_chunked(4096):
                    received.extend(chunk)

        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientPayloadError):
                await read_all(session)
            got = bytes(received)
            assert 0 < len(got) <= len(data) // 2
            first = len(got)
            headers = {"Range": f"bytes={first}-"}
            async with session.get(href, headers=headers) as rest:
                assert rest.status == 206
                got += await rest.read()
        assert got == data
        assert proxy.cuts == 1 and proxy.ranges == ["", f"bytes={first}-"]
    finally:
        await proxy.stop()


@needs_rauc
async def test_a_spoiled_stored_artefact_no_longer_matches_its_announced_checksum(
    goosebit: GooseBit, goosebit_client: GooseBitClient, device_id: str, bundles: Path
) -> None:
    rauc = RaucDevice(bundles / "signer")
    bundle = await asyncio.to_thread(rauc.make_bundle, "1.3.0", out=bundles / "env-1.3.0.raucb")
    software = await goosebit_client.upload(bundle.path)
    await goosebit_client.register(device_id, bundle.compatible)
    await goosebit_client.assign(device_id, software)
    stored = goosebit.stored_artefact(bundle.path.name)
    await asyncio.to_thread(flip_middle_byte, stored)

    poll = await goosebit_client.poll(device_id)
    base = await goosebit_client.get(poll["_links"]["deploymentBase"]["href"])
    (artefact,) = base["deployment"]["chunks"][0]["artifacts"]
    href = artefact["_links"]["download"]["href"]
    async with aiohttp.ClientSession() as session, session.get(href) as response:
        served = await response.read()
    assert len(served) == artefact["size"]
    assert hashlib.sha1(served, usedforsecurity=False).hexdigest() != artefact["hashes"]["sha1"]


def flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


async def test_the_server_goes_down_and_comes_back_on_its_port(
    goosebit: GooseBit, goosebit_client: GooseBitClient, device_id: str
) -> None:
    await goosebit_client.register(device_id, "homei-dev")
    await asyncio.to_thread(goosebit.stop)
    with pytest.raises(aiohttp.ClientConnectorError):
        await goosebit_client.poll(device_id)
    await asyncio.to_thread(goosebit.start)
    assert (await goosebit_client.device(device_id))["hardware"]["model"] == "homei-dev"
