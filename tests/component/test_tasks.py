"""Tasks: created through the API, tracked in SQLite, cancelled, and recovered after a crash."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from homei.app import build
from homei.core.errors import Conflict
from homei.core.tasks import INTERRUPTED_BY_RESTART, TaskContext


async def wait_for_status(
    homei, task_id: str, statuses: set[str], headers, timeout: float = 30.0
) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            response = await homei.client.get(f"/api/v1/tasks/{task_id}", headers=headers)
            body = await response.json()
            if body["status"] in statuses:
                return body
            await asyncio.sleep(0.02)


async def test_create_runs_and_records_a_task(homei):
    headers = await homei.auth()
    response = await homei.client.post(
        "/api/v1/tasks", headers=headers, json={"type": "database_check", "config": {"x": 1}}
    )
    assert response.status == 202
    created = await response.json()
    assert created["id"].startswith("task-") and created["status"] == "pending"
    done = await wait_for_status(homei, created["id"], {"completed", "failed"}, headers)
    assert done["status"] == "completed", done
    assert done["progress"] == 100
    assert done["result"] == {"success": True, "message": "Database integrity check passed"}
    assert done["config"] == {"x": 1} and done["createdBy"] == "admin"
    assert any("integrity_check: ok" in line["message"] for line in done["logs"])
    assert done["started"] and done["completed"] and done["duration"] >= 0


async def test_unknown_type_is_400_naming_the_known_ones(homei):
    response = await homei.client.post(
        "/api/v1/tasks", headers=await homei.auth(), json={"type": "make_coffee"}
    )
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "database_check" in error["details"]["known"]


async def test_unknown_task_is_404(homei):
    response = await homei.client.get(
        "/api/v1/tasks/task-0000000000000000", headers=await homei.auth()
    )
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "TASK_NOT_FOUND"


async def test_list_filters_and_paginates(homei):
    headers = await homei.auth()
    manager = homei.components.tasks

    async def quick(context: TaskContext) -> dict[str, Any]:
        return {"service": context.service}

    for name in ("alpha", "beta", "alpha"):
        record = await manager.start("demo", quick, service=name)
        await manager.wait(record.id)
    body = await (await homei.client.get("/api/v1/tasks?service=alpha", headers=headers)).json()
    assert body["total"] == 2 and {t["service"] for t in body["tasks"]} == {"alpha"}
    body = await (
        await homei.client.get("/api/v1/tasks?limit=1&offset=1&type=demo", headers=headers)
    ).json()
    assert body["total"] == 3 and len(body["tasks"]) == 1
    body = await (await homei.client.get("/api/v1/tasks?status=failed", headers=headers)).json()
    assert body["total"] == 0
    body = await (
        await homei.client.get("/api/v1/tasks?since=2999-01-01T00:00:00Z", headers=headers)
    ).json()
    assert body["total"] == 0
    response = await homei.client.get("/api/v1/tasks?since=yesterday", headers=headers)
    assert response.status == 400


async def test_delete_cancels_a_running_task_and_it_is_gone(homei):
    headers = await homei.auth()
    started = asyncio.Event()

    async def slow(context: TaskContext) -> dict[str, Any]:
        await context.progress(30, "Waiting forever")
        started.set()
        await asyncio.Event().wait()
        return {}

    record = await homei.components.tasks.start("slow", slow)
    async with asyncio.timeout(10):
        await started.wait()
    response = await homei.client.delete(f"/api/v1/tasks/{record.id}", headers=headers)
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "cancelled" and body["progress"] == 30
    for method in ("GET", "DELETE"):
        response = await homei.client.request(method, f"/api/v1/tasks/{record.id}", headers=headers)
        assert response.status == 404, method
        assert (await response.json())["error"]["code"] == "TASK_NOT_FOUND"
    listed = await (await homei.client.get("/api/v1/tasks?type=slow", headers=headers)).json()
    assert listed["total"] == 0
    row = await homei.components.store.fetch_one("SELECT 1 FROM tasks WHERE id = ?", (record.id,))
    assert row is None  # gone for good, not only from memory


async def test_delete_removes_a_finished_task_and_its_log(homei):
    headers = await homei.auth()
    response = await homei.client.post(
        "/api/v1/tasks", headers=headers, json={"type": "database_check"}
    )
    task_id = (await response.json())["id"]
    done = await wait_for_status(homei, task_id, {"completed", "failed"}, headers)
    assert done["logs"]
    response = await homei.client.delete(f"/api/v1/tasks/{task_id}", headers=headers)
    assert response.status == 200 and (await response.json())["status"] == "completed"
    assert (await homei.client.get(f"/api/v1/tasks/{task_id}", headers=headers)).status == 404
    logs = await homei.components.store.fetch_all(
        "SELECT 1 FROM task_logs WHERE task_id = ?", (task_id,)
    )
    assert logs == []


async def test_cancel_keeps_the_record_and_refuses_a_finished_task(homei):
    started = asyncio.Event()

    async def slow(context: TaskContext) -> dict[str, Any]:
        started.set()
        await asyncio.Event().wait()
        return {}

    tasks = homei.components.tasks
    record = await tasks.start("slow", slow)
    async with asyncio.timeout(10):
        await started.wait()
    assert (await tasks.cancel(record.id)).status == "cancelled"
    with pytest.raises(Conflict):
        await tasks.cancel(record.id)
    assert (await tasks.get(record.id)).status == "cancelled"


async def test_a_failing_task_records_its_reason(homei):
    async def broken(context: TaskContext) -> dict[str, Any]:
        raise ValueError("disk on fire")

    record = await homei.components.tasks.start("broken", broken)
    final = await homei.components.tasks.wait(record.id)
    assert final.status == "failed" and final.error == "disk on fire"


async def test_a_failed_task_names_the_file_but_not_the_devices_folders(homei, tmp_path):
    """An OS error's errno number and the device's folders stay in the log, out of the record."""
    missing = tmp_path / "backups" / "nightly.tar"

    async def reads_a_missing_file(context: TaskContext) -> dict[str, Any]:
        await asyncio.to_thread(missing.read_bytes)
        return {}

    record = await homei.components.tasks.start("broken", reads_a_missing_file)
    final = await homei.components.tasks.wait(record.id)
    assert final.status == "failed"
    assert final.error == "No such file or directory: 'nightly.tar'"
    listed = await homei.client.get(f"/api/v1/tasks/{record.id}", headers=await homei.auth())
    assert str(tmp_path) not in await listed.text()


async def test_progress_is_published_as_events(homei):
    subscription = homei.components.events.subscribe(["task:*"])

    async def steps(context: TaskContext) -> dict[str, Any]:
        for percent in (25, 50, 75):
            await context.progress(percent, f"step {percent}")
        return {"ok": True}

    record = await homei.components.tasks.start("steps", steps)
    await homei.components.tasks.wait(record.id)
    seen: list[str] = []
    async with asyncio.timeout(5):
        while "task:completed" not in seen:
            seen.append((await subscription.get()).type)
    assert seen[:2] == ["task:created", "task:started"]
    assert "task:progress" in seen


async def test_tasks_interrupted_by_a_crash_are_marked_failed(homei, tmp_path):
    """A task row left `running` (the daemon was killed) is failed on the next start."""
    started = asyncio.Event()

    async def forever(context: TaskContext) -> dict[str, Any]:
        started.set()
        await asyncio.Event().wait()
        return {}

    record = await homei.components.tasks.start("forever", forever)
    async with asyncio.timeout(10):
        await started.wait()
    # Simulate kill -9: a second daemon opens the same data directory while the row
    # still says running (no shutdown ran to record anything).
    app, components = await build(homei.settings)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        again = await components.tasks.get(record.id, with_logs=False)
        assert again.status == "failed"
        assert again.error == INTERRUPTED_BY_RESTART
    finally:
        await runner.cleanup()


async def test_shutdown_records_running_tasks_as_interrupted(make_homei):
    homei = await make_homei()
    started = asyncio.Event()

    async def forever(context: TaskContext) -> dict[str, Any]:
        started.set()
        await asyncio.Event().wait()
        return {}

    record = await homei.components.tasks.start("forever", forever)
    async with asyncio.timeout(10):
        await started.wait()
    await homei.components.tasks.shutdown()
    final = await homei.components.tasks.get(record.id, with_logs=False)
    assert final.status == "failed" and final.error == INTERRUPTED_BY_RESTART


async def run_backup_task(homei, headers, body: dict[str, Any]) -> dict[str, Any]:
    response = await homei.client.post("/api/v1/tasks", headers=headers, json=body)
    assert response.status == 202, await response.text()
    created = await response.json()
    done = await wait_for_status(homei, created["id"], {"completed", "failed"}, headers, 60)
    assert done["status"] == "completed", done
    return done


async def test_a_backup_task_honours_its_config(homei):
    headers = await homei.auth()
    config = {"name": "before upgrade", "type": "partial", "homei": True,
              "password": "long-enough-pass"}  # fmt: skip
    done = await run_backup_task(homei, headers, {"type": "backup", "config": config})
    assert done["createdBy"] == "admin"
    name = done["result"]["name"]
    assert name.startswith("before-upgrade-"), name
    stored = await (await homei.client.get(f"/api/v1/backups/{name}", headers=headers)).json()
    assert stored["encrypted"] is True and stored["type"] == "partial"
    assert stored["homei"] is True and stored["services"] == []
    # Seed 000's own example: every service, no media.
    seed = {"type": "backup", "service": "all", "config": {"includeMedia": False,
                                                           "compression": True}}  # fmt: skip
    done = await run_backup_task(homei, headers, seed)
    stored = await (
        await homei.client.get(f"/api/v1/backups/{done['result']['name']}", headers=headers)
    ).json()
    assert stored["type"] == "full" and stored["include_data"] is False


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"nmae": "typo"}, "body.config.nmae"),
        ({"password": "short"}, "body.config.password"),
        ({"type": "weekly"}, "body.config.type"),
        ({"compression": False}, "body.config.compression"),
        ({"services": ["nope"]}, None),
    ],
    ids=["unknown-field", "short-password", "bad-type", "uncompressed", "unknown-service"],
)
async def test_a_bad_backup_config_is_a_400_and_starts_nothing(homei, config, path):
    headers = await homei.auth()
    response = await homei.client.post(
        "/api/v1/tasks", headers=headers, json={"type": "backup", "config": config}
    )
    assert response.status == 400, await response.text()
    error = (await response.json())["error"]
    assert error["code"] == "VALIDATION_ERROR"
    if path is not None:
        assert error["details"]["fields"][0]["path"] == path
    listed = await (await homei.client.get("/api/v1/tasks?type=backup", headers=headers)).json()
    assert listed["total"] == 0


async def test_unnamed_backups_made_in_the_same_second_do_not_collide(homei):
    headers = await homei.auth()
    names = []
    for _ in range(2):
        done = await run_backup_task(
            homei, headers, {"type": "backup", "config": {"type": "partial", "homei": True}}
        )
        names.append(done["result"]["name"])
    # Names end in a time stamp to the second; what comes before it differs.
    assert names[0].rsplit("-", 2)[0] != names[1].rsplit("-", 2)[0], names
    assert all(n.startswith("backup-") for n in names)


async def test_a_huge_config_is_refused(homei):
    headers = await homei.auth()
    config = {"note": "x" * (64 * 1024)}
    response = await homei.client.post(
        "/api/v1/tasks", headers=headers, json={"type": "database_check", "config": config}
    )
    assert response.status == 400
    assert (await response.json())["error"]["details"]["field"] == "config"
    assert homei.components.tasks.retained_count == 0
