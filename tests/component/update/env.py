"""What the update tests share: waits, uploads and installs through the API, reboots."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any


class Reboots:
    """Records reboot requests: logind cannot run here (no systemd as PID 1)."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> None:
        self.count += 1


async def wait_until(condition, timeout: float = 30.0, what: str = "condition") -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def upload(homei, bundle_path: Path, headers, name: str | None = None) -> dict[str, Any]:
    async def chunks():
        with bundle_path.open("rb") as handle:
            while chunk := await asyncio.to_thread(handle.read, 256 * 1024):
                yield chunk

    query = f"?filename={name or bundle_path.name}"
    response = await homei.client.post(
        f"/api/v1/update/bundles{query}",
        data=chunks(),
        headers={
            **headers,
            "Content-Type": "application/octet-stream",
            "Content-Length": str(bundle_path.stat().st_size),
        },
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def install(homei, name: str, headers) -> dict[str, Any]:
    response = await homei.client.post(
        "/api/v1/update/install", headers=headers, json={"bundle_path": name}
    )
    assert response.status == 202, await response.text()
    started = await response.json()
    final = await homei.components.tasks.wait(started["taskId"])
    return {"started": started, "task": final}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
