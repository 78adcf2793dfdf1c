"""Backups of real services on the real Docker engine: named volumes and service folders
round-trip byte for byte, a service is held still while it is read, and one service is
restored alone out of a full backup, encrypted, and brought back running."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator

import pytest

from tests.component.services.env import call, install, running, wait_task
from tests.docker_env import IMAGE, DockerEngine, dockerd_available

HOMEI_PARTS = frozenset({"backups"})

pytestmark = pytest.mark.skipif(not dockerd_available(), reason="dockerd is not installed")

WRITE = (
    "mkdir -p /data/nested && head -c 3000000 /dev/urandom > /data/blob"
    " && echo {text} > /data/nested/note && ln -s nested/note /data/link"
)


@pytest.fixture(autouse=True)
def volumes_removed(engine: DockerEngine) -> Iterator[None]:
    """Set up before `homei`, so torn down after it has removed the containers."""
    yield
    for volume in ("app-data", "db-data"):
        engine.api("DELETE", f"/volumes/{volume}")


def digest(engine: DockerEngine, name: str) -> str:
    """What the service's volume holds: every file's path and bytes, and the link."""
    listing = engine.run(
        "exec",
        name,
        "sh",
        "-c",
        "cd /data && find . | sort && md5sum blob nested/note && readlink link",
    ).stdout
    return hashlib.sha256(listing.encode()).hexdigest()


async def test_full_backup_and_one_service_restored_alone_encrypted(homei, engine):
    headers = await homei.auth()
    for name, mode in (("app", "stop"), ("db", "pause")):
        await install(
            homei,
            headers,
            {
                "name": name,
                "image": IMAGE,
                "command": ["sleep", "3600"],
                "stop_timeout": 1,
                "volumes": [f"{name}-data:/data"],
                "backup_mode": mode,
            },
        )
        await asyncio.to_thread(engine.run, "exec", name, "sh", "-c", WRITE.format(text=name))
    folder = homei.settings.services_dir / "app"
    await asyncio.to_thread((folder / "app.conf").write_text, "level = 3\n")
    before = {n: await asyncio.to_thread(digest, engine, n) for n in ("app", "db")}
    started_at = (await asyncio.to_thread(engine.inspect, "app"))["State"]["StartedAt"]

    accepted = await call(
        homei,
        "POST",
        "/api/v1/backups",
        headers,
        202,
        json={
            "name": "nightly",
            "type": "full",
            "include_data": True,
            "password": "correct horse",
        },
    )
    task = await wait_task(homei, headers, accepted["taskId"])
    assert task["status"] == "completed", task
    listed = (await call(homei, "GET", "/api/v1/backups", headers))["backups"]
    entry = next(b for b in listed if b["name"] == accepted["name"])
    assert entry["encrypted"] and set(entry["services"]) == {"app", "db"}
    # "stop" stopped the app while it was read and started it again; "pause" only paused.
    after_backup = await asyncio.to_thread(engine.inspect, "app")
    assert after_backup["State"]["Running"] and after_backup["State"]["StartedAt"] > started_at
    assert await running(engine, "db")

    # Damage both services' data, then restore only the app.
    for name in ("app", "db"):
        await asyncio.to_thread(
            engine.run, "exec", name, "sh", "-c", "rm -rf /data/* && echo x > /data/junk"
        )
    await asyncio.to_thread((folder / "app.conf").write_text, "level = broken\n")
    wrong = await call(
        homei,
        "POST",
        f"/api/v1/backups/{entry['name']}/restore",
        headers,
        400,
        json={"password": "wrong", "services": ["app"], "homei": False},
    )
    assert "password" in wrong["error"]["message"].lower()
    restored = await call(
        homei,
        "POST",
        f"/api/v1/backups/{entry['name']}/restore",
        headers,
        202,
        json={"password": "correct horse", "services": ["app"], "homei": False},
    )
    task = await wait_task(homei, headers, restored["taskId"])
    assert task["status"] == "completed", task

    async def app_back() -> bool:
        return await running(engine, "app")

    await asyncio.wait_for(_poll(app_back), 60)
    assert await asyncio.to_thread(digest, engine, "app") == before["app"]
    assert (await asyncio.to_thread((folder / "app.conf").read_text)) == "level = 3\n"
    # The other service was not part of the restore: its damage stays.
    junk = await asyncio.to_thread(engine.run, "exec", "db", "ls", "/data")
    assert junk.stdout.split() == ["junk"]


async def _poll(condition) -> None:
    while not await condition():
        await asyncio.sleep(0.1)
