"""Secrets through backups: sealed in every backup, the device key only in password-protected
ones, so a restore onto another device (another key) opens them; without the key the restore
is refused, saying why. No Docker: the configurations are written through the store the API
uses (no service needs to run for its configuration to be kept)."""

from __future__ import annotations

from typing import Any

import pytest

from homei.config.keys import open_device_key
from tests.conftest import Homei, HomeiFactory

SECRET = "p4ssw0rd-that-must-travel-sealed"
PASSWORD = "backup-password"


async def backup(device: Homei, headers: dict[str, str], **body: object) -> bytes:
    response = await device.client.post("/api/v1/backups", json=body, headers=headers)
    assert response.status == 202, await response.text()
    started = await response.json()
    task = await device.components.tasks.wait(started["taskId"])
    assert task.status == "completed", task.error
    path = f"/api/v1/backups/{started['name']}/download"
    return await (await device.client.get(path, headers=headers)).read()


async def restore(device: Homei, headers: dict[str, str], content: bytes, **body: object) -> Any:
    uploaded = await device.client.post(
        "/api/v1/backups/upload", data=content,
        headers={**headers, "Content-Type": "application/x-tar"},
    )  # fmt: skip
    assert uploaded.status == 201, await uploaded.text()
    path = f"/api/v1/backups/{(await uploaded.json())['name']}/restore"
    response = await device.client.post(path, json=body, headers=headers)
    assert response.status == 202, await response.text()
    return await device.components.tasks.wait((await response.json())["taskId"])


@pytest.fixture
async def pair(make_homei: HomeiFactory) -> tuple[Homei, Homei]:
    parts = frozenset({"backups"})
    return await make_homei(name="old", parts=parts), await make_homei(name="new", parts=parts)


async def test_a_password_backup_opens_its_secrets_on_another_device(pair) -> None:
    old, new = pair
    configs = old.components.service_configs
    await configs.put("app", "production", {"TZ": "UTC"}, {"API_KEY": SECRET}, actor="admin")
    assert old.components.device_key.fingerprint != new.components.device_key.fingerprint
    plain = await backup(old, await old.auth(), type="partial", homei=True)
    sealed = await backup(old, await old.auth(), type="partial", homei=True, password=PASSWORD)
    assert SECRET.encode() not in plain and old.components.device_key.material not in plain

    # Without the key, the restore is refused and says why; nothing changes.
    headers = await new.auth()
    refused = await restore(new, headers, plain)
    assert refused.status == "failed"
    assert "password-protected backup" in str(refused.error)
    assert (await new.components.service_configs.get("app")).version == 0

    done = await restore(new, headers, sealed, password=PASSWORD)
    assert done.status == "completed", done.error
    assert new.components.device_key.fingerprint == old.components.device_key.fingerprint
    opened = await new.components.service_configs.get("app", include_secrets=True)
    assert opened.secrets == {"API_KEY": SECRET} and opened.variables == {"TZ": "UTC"}
    # The key file was replaced too: the next start opens the same secrets.
    key_path = new.settings.secrets_dir / "device.key"
    assert key_path.read_bytes() == old.components.device_key.material
    assert not (new.settings.secrets_dir / "device.key.restored").exists()
    again = await open_device_key(new.components.store, key_path)
    assert again.fingerprint == old.components.device_key.fingerprint
