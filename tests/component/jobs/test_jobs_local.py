"""Jobs on the `local` system (the device itself), through the API of an in-process Homei:
output and exit codes, timeouts, cancel, schedules, truncation, roles, the live stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import OPEN_LIMITS, Homei, HomeiFactory
from tests.processes import is_alive

LIMITS = OPEN_LIMITS + "\n[jobs]\noutput_limit = 4096\nkill_grace = 2.0\nflush_interval = 0.2\n"
FINISHED = {"completed", "failed", "cancelled", "missed"}


@pytest.fixture
async def homei(make_homei: HomeiFactory) -> Homei:
    return await make_homei(LIMITS)


async def until(condition: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0) -> Any:
    """Poll `condition` until it answers something truthy."""
    async with asyncio.timeout(timeout):
        while not (result := await condition()):
            await asyncio.sleep(0.05)
    assert result, what
    return result


async def create(homei: Homei, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    body.setdefault("name", "test")
    body.setdefault("system_ids", ["local"])
    response = await homei.client.post("/api/v1/jobs", json=body, headers=headers)
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def get(homei: Homei, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    response = await homei.client.get(f"/api/v1/jobs/{job_id}", headers=headers)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def finished(homei: Homei, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        job = await get(homei, headers, job_id)
        return job if job["status"] in FINISHED else None

    return dict(await until(done, f"job {job_id} finished"))


async def test_output_and_exit_codes(homei: Homei) -> None:
    admin = await homei.auth()
    ok = await create(homei, admin, command="echo out; echo err >&2; echo $GREETING")
    bad = await create(homei, admin, command="echo partial; exit 3", env={"UNUSED": "x"})
    assert ok["status"] == "pending" and ok["executions"][0]["status"] == "pending"
    job = await finished(homei, admin, ok["id"])
    assert job["status"] == "completed"
    [run] = job["executions"]
    assert (run["status"], run["exit_code"], run["stdout"], run["stderr"]) == (
        "completed",
        0,
        "out\n\n",
        "err\n",
    )
    assert run["duration_seconds"] >= 0 and run["started_at"] and run["completed_at"]
    job = await finished(homei, admin, bad["id"])
    [run] = job["executions"]
    assert (job["status"], run["status"], run["exit_code"]) == ("failed", "failed", 3)
    assert run["stdout"] == "partial\n" and run["error_message"] == "exited with 3"
    env = await create(homei, admin, command="echo $GREETING", env={"GREETING": "hello"})
    [run] = (await finished(homei, admin, env["id"]))["executions"]
    assert run["stdout"] == "hello\n"


async def test_timeout_stops_the_command(homei: Homei, tmp_path: Path) -> None:
    admin = await homei.auth()
    pid_file = tmp_path / "pid"
    job = await create(
        homei, admin, command=f"sleep 60 & echo $! > {pid_file}; wait", timeout_seconds=1
    )
    job = await finished(homei, admin, job["id"])
    [run] = job["executions"]
    assert (job["status"], run["status"]) == ("failed", "timeout")
    assert "timed out after 1s" in run["error_message"]
    assert not is_alive(int(pid_file.read_text()))


async def test_cancel_stops_running_and_pending(homei: Homei, tmp_path: Path) -> None:
    admin = await homei.auth()
    pid_file = tmp_path / "pid"
    # `trap '' TERM`: the command ignores SIGTERM, so the SIGKILL after the grace is needed.
    command = f"trap '' TERM; sleep 60 & echo $! > {pid_file}; echo started; wait"
    job = await create(homei, admin, command=command)
    await until(lambda: asyncio.to_thread(pid_file.exists), "the command running")
    child = int(pid_file.read_text())
    response = await homei.client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=admin)
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "cancelled"
    job = await get(homei, admin, job["id"])
    [run] = job["executions"]
    assert (job["status"], run["status"], run["stdout"]) == ("cancelled", "cancelled", "started\n")
    assert not is_alive(child)
    again = await homei.client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=admin)
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "JOB_NOT_RUNNING"

    later = datetime.now(UTC) + timedelta(hours=1)
    scheduled = await create(homei, admin, command="true", schedule_at=later.isoformat())
    assert scheduled["next_run_at"] and scheduled["executions"][0]["status"] == "pending"
    response = await homei.client.post(f"/api/v1/jobs/{scheduled['id']}/cancel", headers=admin)
    assert response.status == 200
    job = await get(homei, admin, scheduled["id"])
    assert job["next_run_at"] is None and job["executions"][0]["status"] == "cancelled"


async def test_a_scheduled_job_fires(homei: Homei) -> None:
    admin = await homei.auth()
    at = datetime.now(UTC) + timedelta(seconds=1)
    job = await create(homei, admin, command="date +%s.%N", schedule_at=at.isoformat())
    assert job["status"] == "pending" and job["scheduled_at"]
    job = await finished(homei, admin, job["id"])
    [run] = job["executions"]
    assert run["status"] == "completed"
    assert float(run["stdout"]) >= at.timestamp() - 0.01


async def test_output_is_truncated_at_the_limit(homei: Homei) -> None:
    admin = await homei.auth()
    job = await create(homei, admin, command="head -c 10000 /dev/zero | tr '\\0' x; echo e >&2")
    [run] = (await finished(homei, admin, job["id"]))["executions"]
    assert run["stdout"] == "x" * 4096 and run["stderr"] == "e\n"
    assert run["truncated"] is True and run["status"] == "completed"


async def test_output_reaches_the_database_while_running(homei: Homei, tmp_path: Path) -> None:
    admin = await homei.auth()
    gate = tmp_path / "go"
    command = f"echo first; while [ ! -e {gate} ]; do sleep 0.05; done; echo second"
    job = await create(homei, admin, command=command)

    async def partial() -> bool:
        [run] = (await get(homei, admin, job["id"]))["executions"]
        return bool(run["status"] == "running" and run["stdout"] == "first\n")

    await until(partial, "the first line stored while the command runs")
    await asyncio.to_thread(gate.touch)
    [run] = (await finished(homei, admin, job["id"]))["executions"]
    assert run["stdout"] == "first\nsecond\n"


async def test_roles(homei: Homei) -> None:
    admin = await homei.auth()
    operator = await homei.add_user("olivia", "operator")
    viewer = await homei.add_user("victor", "viewer")
    body = {"name": "x", "command": "true", "system_ids": ["local"]}
    response = await homei.client.post("/api/v1/jobs", json=body, headers=operator)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "FORBIDDEN"
    response = await homei.client.post("/api/v1/jobs", json=body, headers=viewer)
    assert response.status == 403
    job = await create(homei, admin, command="true")
    await finished(homei, viewer, job["id"])
    response = await homei.client.get("/api/v1/jobs?created_by=admin", headers=viewer)
    listed = await response.json()
    assert listed["total"] == 1 and listed["jobs"][0]["id"] == job["id"]
    assert listed["jobs"][0]["executions"][0]["status"] == "completed"
    response = await homei.client.get("/api/v1/jobs?status=failed", headers=viewer)
    assert (await response.json())["total"] == 0
    response = await homei.client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=viewer)
    assert response.status == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"system_ids": ["nowhere"]}, "body.system_ids"),
        ({"cron": "61 * * * *"}, "body.cron"),
        ({"cron": "* * * * *", "schedule_at": "2030-01-01T00:00:00Z"}, "body.cron"),
        ({"system_ids": []}, "body.system_ids"),
        ({"env": {"1BAD": "x"}}, "body"),
        ({"timeout_seconds": 0}, "body.timeout_seconds"),
    ],
)
async def test_bad_jobs_are_refused(homei: Homei, body: dict[str, Any], field: str) -> None:
    full = {"name": "x", "command": "true", "system_ids": ["local"], **body}
    response = await homei.client.post("/api/v1/jobs", json=full, headers=await homei.auth())
    assert response.status == 400, await response.text()
    error = (await response.json())["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["fields"][0]["path"].startswith(field)


async def test_unknown_job_is_404(homei: Homei) -> None:
    admin = await homei.auth()
    missing = "00000000-0000-0000-0000-000000000000"
    for method, path in (("GET", ""), ("POST", "/cancel")):
        url = f"/api/v1/jobs/{missing}{path}"
        response = await homei.client.request(method, url, headers=admin)
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "JOB_NOT_FOUND"


async def test_the_live_stream_of_a_job(homei: Homei, tmp_path: Path) -> None:
    """A watcher joining after the first line gets it, then the rest as it comes, once."""
    admin = await homei.auth()
    gate = tmp_path / "go"
    command = f"echo one; while [ ! -e {gate} ]; do sleep 0.05; done; echo two; echo oops >&2"
    job = await create(homei, admin, command=command)
    await until(lambda: _stdout_is(homei, admin, job["id"], "one\n"), "the first line stored")
    token = admin["Authorization"].split()[1]
    texts: dict[str, str] = {"stdout": "", "stderr": ""}
    kinds = []
    async with homei.client.ws_connect(f"/ws/jobs/{job['id']}?token={token}") as ws:
        await asyncio.to_thread(gate.touch)
        async with asyncio.timeout(30):
            async for message in ws:
                event = message.json()
                kinds.append(event["type"])
                if event["type"] == "job:output":
                    for chunk in event["data"]["chunks"]:
                        assert chunk["offset"] == len(texts[chunk["stream"]])
                        texts[chunk["stream"]] += chunk["text"]
    assert texts == {"stdout": "one\ntwo\n", "stderr": "oops\n"}
    assert kinds[0] == "job:execution" and kinds[-1] == "job:completed"
    # A finished job: its state and output, then the end.
    async with homei.client.ws_connect(f"/ws/jobs/{job['id']}?token={token}") as ws:
        events = [message.json() async for message in ws]
    assert [e["type"] for e in events] == ["job:execution", "job:output", "job:completed"]


async def _stdout_is(homei: Homei, headers: dict[str, str], job_id: str, text: str) -> bool:
    [run] = (await get(homei, headers, job_id))["executions"]
    return bool(run["stdout"] == text)


async def test_dashboard(homei: Homei) -> None:
    admin = await homei.auth()
    job = await create(homei, admin, command="exit 1")
    await finished(homei, admin, job["id"])
    viewer = await homei.add_user("v", "viewer")
    response = await homei.client.get("/api/v1/dashboard", headers=viewer)
    assert response.status == 200
    board = await response.json()
    assert board["user"] == {"authenticated": True, "username": "v", "role": "viewer"}
    assert board["jobs"]["total"] == 1 and board["jobs"]["failed"] == 1
    assert board["executions"]["failed"] == 1 and board["executions"]["average_duration"] >= 0
    assert board["recent_executions"][0]["job_id"] == job["id"]
    assert board["systems"]["total"] >= 1
    assert board["engine"]["running_jobs"] == 0
    device = board["device"]
    assert set(device) == {"services", "update", "last_backup", "alerts"}
    assert device["services"] == {"total": 0, "healthy": 0, "unhealthy": 0, "stopped": 0}
    assert device["last_backup"] is None
    assert device["alerts"] == {"total": 0, "info": 0, "warning": 0, "error": 0, "critical": 0}


async def test_chatty_output_is_coalesced(make_homei: HomeiFactory) -> None:
    """20000 lines written one by one reach the bus as a few `job:output` events (one per job
    per tick), together exactly the stored output."""
    homei = await make_homei(OPEN_LIMITS + "\n[jobs]\nevent_interval = 0.2\n", name="chatty")
    admin = await homei.auth()
    subscription = homei.components.events.subscribe(["job:output"], queue_size=10_000)
    started = asyncio.get_running_loop().time()
    job = await create(
        homei, admin, command="i=0; while [ $i -lt 20000 ]; do i=$((i+1)); echo $i; done"
    )
    [run] = (await finished(homei, admin, job["id"]))["executions"]
    elapsed = asyncio.get_running_loop().time() - started
    homei.components.events.unsubscribe(subscription)
    events = [subscription.queue.get_nowait() for _ in range(subscription.queue.qsize())]
    text = "".join(c["text"] for e in events for c in e.data["chunks"])
    assert text == run["stdout"] and len(text) == 108894
    assert len(events) <= elapsed / 0.2 + 3, (len(events), elapsed)


async def test_a_cron_job_makes_one_run_per_due_time(homei: Homei) -> None:
    """A cron job whose time passed (the device was off for several of them) runs once, for
    that time, however many times the schedule is asked to fire it; its next time is ahead."""
    admin = await homei.auth()
    job = await create(homei, admin, command="echo tick", cron="*/5 * * * *")
    assert job["executions"] == [] and job["next_run_at"] > job["created_at"]
    passed = (datetime.now(UTC) - timedelta(minutes=12)).strftime("%Y-%m-%dT%H:%M:00.000Z")
    store = homei.components.store
    await store.execute("UPDATE jobs SET next_run_at = ? WHERE id = ?", (passed, job["id"]))
    jobs = homei.components.jobs
    await asyncio.gather(jobs.scheduler.catch_up(), jobs.scheduler.catch_up())
    jobs.scheduler.wake()
    job = await finished(homei, admin, job["id"])
    [run] = job["executions"]
    assert (run["due_at"], run["status"], run["stdout"]) == (passed, "completed", "tick\n")
    assert job["next_run_at"] > datetime.now(UTC).isoformat()[:19]
    listed = await homei.client.get("/api/v1/jobs", headers=admin)
    assert [len(j["executions"]) for j in (await listed.json())["jobs"]] == [1]
