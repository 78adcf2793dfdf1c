"""What the services tests share: a Homei on a private Docker engine and a few waits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.conftest import RATE_LIMITS_OPEN
from tests.docker_env import IMAGE, DockerEngine

DEADLINE = 60.0


def settings_for(engine: DockerEngine, extra: str = "", restart_backoff: float = 0.5) -> str:
    """Homei's settings: this engine, no RAUC, quick health checks and samples."""
    return RATE_LIMITS_OPEN + (
        f'[docker]\nurl = "{engine.host}"\n'
        '[update]\ndbus_address = "unix:path=/nonexistent/homei-test-bus"\n'
        f"[services]\nsample_interval = 0.5\nrestart_backoff = {restart_backoff}\n" + extra
    )


def httpd(name: str, **fields: Any) -> dict[str, Any]:
    """A service serving the test image's index page on port 8080."""
    return {
        "name": name,
        "image": IMAGE,
        "command": ["httpd", "-f", "-p", "8080", "-h", "/var/www"],
        "stop_timeout": 1,
        **fields,
    }


def sleeper(name: str, **fields: Any) -> dict[str, Any]:
    """A service that does nothing for an hour (and stops at once: `--init`-free `sleep`
    ignores SIGTERM, so its stop timeout is short)."""
    return {"name": name, "image": IMAGE, "command": ["sleep", "3600"], "stop_timeout": 1, **fields}


async def until(condition: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    """Poll an (async or plain) condition until it is truthy; its value."""
    last: Any = None
    async with asyncio.timeout(deadline):
        while True:
            last = condition()
            if asyncio.iscoroutine(last):
                last = await last
            if last:
                return last
            await asyncio.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")  # pragma: no cover


async def reconciled(homei: Any, name: str | None = None) -> None:
    """Until a reconcile pass that takes this request (of one service or all) has finished."""
    reconciler = homei.components.reconciler
    ticket = reconciler.request(name)
    await until(lambda: reconciler.passes >= ticket, "a reconcile pass")


async def call(
    homei: Any, method: str, path: str, headers: dict[str, str], status: int = 200, **kwargs: Any
) -> Any:
    response = await homei.client.request(method, path, headers=headers, **kwargs)
    body = await response.json()
    assert response.status == status, body
    return body


async def wait_task(homei: Any, headers: dict[str, str], task_id: str) -> dict[str, Any]:
    """The task once it has finished."""

    async def finished() -> Any:
        task = await call(homei, "GET", f"/api/v1/tasks/{task_id}", headers)
        return task if task["status"] in ("completed", "failed", "cancelled") else None

    return await until(finished, f"task {task_id}")


async def install(homei: Any, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """Install and wait; the finished task (asserted completed)."""
    accepted = await call(homei, "POST", "/api/v1/services", headers, 202, json=body)
    task = await wait_task(homei, headers, accepted["taskId"])
    assert task["status"] == "completed", task
    return task


def state(engine: DockerEngine, name: str) -> dict[str, Any]:
    """The container's State, or {} when there is no such container."""
    # Not inspect(): a container the reconciler is replacing may be gone between two calls.
    response = engine.api("GET", f"/containers/{name}/json")
    if response.status == 404:
        return {}
    assert response.status == 200, response.body
    return response.body["State"]  # type: ignore[no-any-return]


async def running(engine: DockerEngine, name: str) -> bool:
    return bool((await asyncio.to_thread(state, engine, name)).get("Running"))
