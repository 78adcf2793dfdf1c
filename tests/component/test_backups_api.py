"""`/api/v1/backups` over real HTTP: roles, the error envelope, streaming out and in,
restore of Homei's own database while it runs, and concurrent requests."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from tests.conftest import OPEN_LIMITS


async def wait_task(homei, task_id: str):
    return await homei.components.tasks.wait(task_id)


async def create(daemon, headers, **body) -> dict:
    response = await daemon.client.post("/api/v1/backups", json=body, headers=headers)
    assert response.status == 202, await response.text()
    started = await response.json()
    task = await wait_task(daemon, started["taskId"])
    assert task.status == "completed", task.error
    return started


async def test_create_list_download_upload_restore_delete(homei):
    admin = await homei.auth()
    operator = await homei.add_user("olga", "operator")
    viewer = await homei.add_user("vic", "viewer")
    started = await create(homei, operator, name="before update", type="partial", homei=True)
    name = started["name"]
    assert name.startswith("before-update-") and started["status"] == "creating"

    listed = await (await homei.client.get("/api/v1/backups", headers=viewer)).json()
    assert [b["name"] for b in listed["backups"]] == [name]
    assert listed["backups"][0]["homei"] is True and listed["backups"][0]["encrypted"] is False
    for method, path in (("POST", "/api/v1/backups"), ("DELETE", f"/api/v1/backups/{name}"),
                         ("GET", f"/api/v1/backups/{name}/download")):  # fmt: skip
        response = await homei.client.request(method, path, headers=viewer, json={})
        assert response.status == 403, (method, path)

    download = await homei.client.get(f"/api/v1/backups/{name}/download", headers=operator)
    assert download.status == 200 and download.content_type == "application/x-tar"
    content = await download.read()
    on_disk = (homei.settings.backups_dir / name).read_bytes()
    assert hashlib.sha256(content).digest() == hashlib.sha256(on_disk).digest()

    # Something changes after the backup; a restore of Homei's part takes it back, live.
    await homei.add_user("later", "viewer")
    response = await homei.client.post(f"/api/v1/backups/{name}/restore", headers=operator)
    assert response.status == 202, await response.text()
    task = await wait_task(homei, (await response.json())["taskId"])
    assert task.status == "completed", task.error
    users = await (await homei.client.get("/api/v1/users", headers=admin)).json()
    assert {u["username"] for u in users["users"]} == {"admin", "olga", "vic"}
    assert (await homei.client.get("/api/v1/backups", headers=viewer)).status == 200

    deleted = await homei.client.delete(f"/api/v1/backups/{name}", headers=operator)
    assert (await deleted.json())["status"] == "deleted"
    assert (await homei.client.get(f"/api/v1/backups/{name}", headers=viewer)).status == 404

    async def chunks():
        for i in range(0, len(content), 65536):
            yield content[i : i + 65536]

    uploaded = await homei.client.post(
        "/api/v1/backups/upload", data=chunks(), headers={**operator,
        "Content-Type": "application/x-tar", "Content-Length": str(len(content))},
    )  # fmt: skip
    assert uploaded.status == 201, await uploaded.text()
    assert (await uploaded.json())["name"] == name
    assert (homei.settings.backups_dir / name).read_bytes() == content
    again = await homei.client.post(
        "/api/v1/backups/upload", data=content, headers={**operator,
        "Content-Type": "application/x-tar"},
    )  # fmt: skip
    assert again.status == 409 and (await again.json())["error"]["code"] == "CONFLICT"


@pytest.mark.parametrize("content", [b"not a backup", b"\0" * 10240], ids=["garbage", "empty-tar"])
async def test_an_upload_that_is_no_backup_is_refused_and_not_kept(homei, content):
    headers = await homei.auth()
    response = await homei.client.post(
        "/api/v1/backups/upload?filename=x-20240101-000000.tar", data=content, headers=headers
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "BACKUP_ERROR"
    assert [p.name for p in homei.settings.backups_dir.iterdir()] == []


async def test_a_damaged_upload_is_refused(homei):
    headers = await homei.auth()
    name = (await create(homei, headers, type="partial", homei=True))["name"]
    data = bytearray((homei.settings.backups_dir / name).read_bytes())
    data[700] ^= 0xFF  # inside the first part's data
    response = await homei.client.post(
        "/api/v1/backups/upload?filename=copy-20240101-000000.tar", data=bytes(data),
        headers=headers,
    )  # fmt: skip
    assert response.status == 400, await response.text()
    assert "checksum" in (await response.json())["error"]["message"]


async def test_wrong_password_is_a_400_and_concurrency_a_409(homei):
    headers = await homei.auth()
    name = (await create(homei, headers, type="partial", homei=True, password="s3cret-pass"))[
        "name"
    ]
    response = await homei.client.post(
        f"/api/v1/backups/{name}/restore", json={"password": "not-the-one"}, headers=headers
    )
    body = await response.json()
    assert response.status == 400 and body["error"]["code"] == "VALIDATION_ERROR"
    assert "Wrong password" in body["error"]["message"]
    responses = await asyncio.gather(
        *(homei.client.post("/api/v1/backups", json={}, headers=headers) for _ in range(4))
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [202, 409, 409, 409]
    for r in responses:
        if r.status == 202:
            await wait_task(homei, (await r.json())["taskId"])
        else:
            assert (await r.json())["error"]["code"] == "CONFLICT"


async def test_bad_names_and_bodies(homei):
    headers = await homei.auth()
    for path, status in (("/api/v1/backups/x-20240101-000000.tar", 404),
                         ("/api/v1/backups/..%2Fetc.tar", 404)):  # fmt: skip
        response = await homei.client.get(path, headers=headers)
        assert response.status in (status, 400), path
    response = await homei.client.post(
        "/api/v1/backups", json={"type": "partial", "services": ["nope"]}, headers=headers
    )
    assert response.status == 400 and (await response.json())["error"]["code"] == "VALIDATION_ERROR"


async def test_a_schedule_makes_backups_and_keeps_the_newest(make_homei):
    toml = OPEN_LIMITS + (
        '[backup]\n[[backup.schedules]]\nname = "hourly"\ntype = "partial"\nhomei = true\n'
        "interval = 1.0\nkeep_last = 2\n"
        '[[backup.schedules]]\nname = "broken"\ntype = "partial"\nhomei = true\n'
        'interval = 1.0\npassword_file = "/nonexistent/password"\n'
    )
    homei = await make_homei(toml)
    alerts = homei.components.events.subscribe(["backup:alert"])
    alert = await asyncio.wait_for(alerts.get(), 30)
    assert alert.data["schedule"] == "broken"
    async with asyncio.timeout(60):
        while True:
            names = [b.name for b in await homei.components.backups.list()]
            hourly = [n for n in names if n.startswith("hourly-")]
            made = [
                r for r in homei.components.tasks.list(limit=1000)[0]
                if r.created_by == "schedule:hourly" and r.status == "completed"
            ]  # fmt: skip
            # Three made, the oldest deleted by the retention: two kept.
            if len(made) >= 3 and len(hourly) == 2:
                break
            await asyncio.sleep(0.2)
    schedules = await (
        await homei.client.get("/api/v1/backups/schedules", headers=await homei.auth())
    ).json()
    by_name = {s["name"]: s for s in schedules["schedules"]}
    assert by_name["hourly"]["keep_last"] == 2 and by_name["hourly"]["last_result"] == "completed"
    assert by_name["broken"]["last_result"] != "completed"
