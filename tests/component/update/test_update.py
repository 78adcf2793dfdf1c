"""OS updates against the real RAUC service on a private D-Bus, with real signed bundles."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from tests.component.update.env import install, sha256, upload, wait_until
from tests.conftest import NO_DOCKER, RATE_LIMITS_OPEN
from tests.rauc_env import rauc_available

pytestmark = pytest.mark.skipif(not rauc_available(), reason="RAUC is not installed")


async def test_status_shows_the_booted_slot(homei, device):
    response = await homei.client.get("/api/v1/update/status", headers=await homei.auth())
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["compatible"] == "homei-dev"
    assert body["bootSlot"] == "A" and body["operation"] == "idle"
    slots = {slot["bootname"]: slot for slot in body["slots"]}
    assert set(slots) == {"A", "B"}
    assert slots["A"]["state"] == "booted" and slots["B"]["state"] == "inactive"
    assert body["booted"] == slots["A"]["name"]
    assert slots["A"]["class"] == "rootfs"


async def test_a_good_bundle_installs_into_the_other_slot(homei, device):
    headers = await homei.auth()
    bundle = await asyncio.to_thread(device.make_bundle, "2.0.0")
    progress = homei.components.events.subscribe(["update:*"])
    stored = await upload(homei, bundle.path, headers)
    assert stored["sha256"] == sha256(bundle.path) and stored["size"] == bundle.path.stat().st_size
    result = await install(homei, stored["name"], headers)
    task = result["task"]
    assert task.status == "completed", task.error
    assert task.result["version"] == "2.0.0" and task.result["slot"] == "B"
    assert task.progress == 100
    # RAUC wrote the image into slot B and told the bootloader to boot B next.
    image = bundle.image.read_bytes()
    assert device.slot_image("B").read_bytes()[: len(image)] == image
    state = await asyncio.to_thread(device.bootloader_state)
    assert state["primary"] == "B"
    seen = set()
    while "update:completed" not in seen:
        seen.add((await asyncio.wait_for(progress.get(), 10)).type)
    assert {"update:started", "update:progress"} <= seen
    body = await (await homei.client.get("/api/v1/update/status", headers=headers)).json()
    entry = body["history"][0]
    assert entry["result"] == "installed" and entry["to_version"] == "2.0.0"
    assert entry["from_slot"] == "A" and entry["to_slot"] == "B"


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"compatible": "someone-else"}, "Compatible mismatch"),
        ({"signer": "other"}, "unable to get local issuer certificate"),
        ({"corrupt": True}, "signature verification failed"),
        ({"truncated": True}, "ignature size"),
        ({"unsigned": True}, "Signature size is 0"),
    ],
)
async def test_rejected_bundles_leave_the_slots_alone(homei, device, options, reason):
    headers = await homei.auth()
    before = (sha256(device.slot_image("B")), await asyncio.to_thread(device.bootloader_state))
    bundle = await asyncio.to_thread(device.make_bundle, "6.6.6", **options)
    stored = await upload(homei, bundle.path, headers)
    task = (await install(homei, stored["name"], headers))["task"]
    assert task.status == "failed"
    assert reason in task.error, task.error
    after = (sha256(device.slot_image("B")), await asyncio.to_thread(device.bootloader_state))
    assert after == before
    history = (await homei.components.updates.history.list())[0]
    assert history.result == "failed" and history.message == task.error


@pytest.mark.parametrize(
    "given", ["../escape.raucb", "/etc/passwd", "link.raucb", "nested/../../x.raucb"]
)
async def test_paths_outside_the_updates_directory_are_refused(homei, tmp_path, given):
    updates = homei.settings.updates_dir
    (tmp_path / "escape.raucb").write_bytes(b"x")
    (updates / "link.raucb").symlink_to(tmp_path / "escape.raucb")
    response = await homei.client.post(
        "/api/v1/update/install", headers=await homei.auth(), json={"bundle_path": given}
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "VALIDATION_ERROR"


async def test_a_second_install_while_one_runs_is_409(homei, device):
    headers = await homei.auth()
    bundle = await asyncio.to_thread(device.make_bundle, "3.0.0")
    stored = await upload(homei, bundle.path, headers)
    first = await homei.client.post(
        "/api/v1/update/install", headers=headers, json={"bundle_path": stored["name"]}
    )
    assert first.status == 202
    second = await homei.client.post(
        "/api/v1/update/install", headers=headers, json={"bundle_path": stored["name"]}
    )
    assert second.status == 409
    await homei.components.tasks.wait((await first.json())["taskId"])


async def test_mark_routes(homei, device):
    headers = await homei.auth()
    response = await homei.client.post("/api/v1/update/mark-good", headers=headers)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["state"] == "good" and body["slot"].startswith("rootfs")
    response = await homei.client.post(
        "/api/v1/update/mark-active", headers=headers, json={"slot": "other"}
    )
    assert response.status == 200
    assert (await asyncio.to_thread(device.bootloader_state))["primary"] == "B"
    response = await homei.client.post(
        "/api/v1/update/mark-good", headers=headers, json={"slot": "nonexistent"}
    )
    assert response.status == 400
    viewer = await homei.add_user("viv", "viewer")
    assert (await homei.client.post("/api/v1/update/mark-good", headers=viewer)).status == 403


async def test_upload_over_the_limit_leaves_nothing(device, make_homei, tmp_path):
    toml = (
        RATE_LIMITS_OPEN
        + NO_DOCKER
        + (
            f'[update]\ndbus_address = "{device.bus_address}"\nmax_bundle_size = 1024\n'
            f'updates_dir = "{tmp_path / "small-updates"}"\n'
        )
    )
    homei = await make_homei(toml, name="small")
    headers = {**await homei.auth(), "Content-Type": "application/octet-stream"}
    response = await homei.client.post(
        "/api/v1/update/bundles?filename=big.raucb", data=b"x" * 4096, headers=headers
    )
    assert response.status == 413
    assert os.listdir(tmp_path / "small-updates") == []


async def test_cli_installs_with_progress_and_shows_status(homei, device, tmp_path):
    from tests.component.test_cli import homei_cli

    bundle = await asyncio.to_thread(device.make_bundle, "5.0.0")
    token = await homei.token()
    url = str(homei.client.make_url("")).rstrip("/")
    environ = {"HOMEI_URL": url, "HOMEI_TOKEN": token}
    result = await asyncio.to_thread(
        homei_cli, tmp_path, "update", "install", str(bundle.path), "--json", **environ
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["task"]["status"] == "completed"
    assert body["task"]["result"]["slot"] == "B"
    result = await asyncio.to_thread(homei_cli, tmp_path, "update", "status", **environ)
    assert result.returncode == 0, result.stderr
    assert "booted from A" in result.stdout and "5.0.0" in result.stdout
    result = await asyncio.to_thread(
        homei_cli, tmp_path, "update", "mark-bad", "other", "--json", **environ
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "bad"
    bad = await asyncio.to_thread(device.make_bundle, "5.0.1", compatible="elsewhere")
    result = await asyncio.to_thread(
        homei_cli, tmp_path, "update", "install", str(bad.path), **environ
    )
    assert result.returncode == 1
    assert "Compatible mismatch" in result.stderr


async def test_an_upload_cut_off_midway_leaves_nothing(homei):
    token = await homei.token()
    _, writer = await asyncio.open_connection(homei.client.host, homei.client.port)
    writer.write(
        b"POST /api/v1/update/bundles?filename=cut.raucb HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n".encode()
        + b"Content-Length: 10000000\r\n\r\n"
        + b"x" * 3_000_000
    )
    await writer.drain()
    updates = homei.settings.updates_dir
    await wait_until(lambda: any(p.name.startswith(".upload-") for p in updates.iterdir()))
    writer.close()  # the client goes away with 7 MB still unsent
    await wait_until(lambda: list(updates.iterdir()) == [])
    listed = await (
        await homei.client.get("/api/v1/update/bundles", headers=await homei.auth())
    ).json()
    assert listed["bundles"] == []
