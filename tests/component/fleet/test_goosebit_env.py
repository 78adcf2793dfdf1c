"""The fleet environment itself: gooseBit is up, takes a signed bundle, assigns it, and a
plain DDI client is offered a deploymentBase whose artefact is the bundle."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import aiohttp

from tests.component.fleet.conftest import needs_rauc
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

    await goosebit_client._request(  # a device's feedback as the DDI has it
        "POST",
        f"/{TENANT}/controller/v1/{device_id}/deploymentBase/{base['id']}/feedback",
        json={
            "id": base["id"],
            "status": {
                "execution": "closed",
                "result": {"finished": "failure"},
                "details": ["rejected by the test"],
            },
        },
    )
    seen = await goosebit_client.device(device_id)
    assert seen["last_state"] == "Error"
    assert (await goosebit_client.device_log(device_id))["log"].strip() == "rejected by the test"
