"""Jobs on registered systems over SSH, against real sshd on loopback: output and exit codes
across five systems with one down, concurrency, a timeout and a cancel that leave no remote
process behind, operators kept to the systems allowed them, a system deleted with its
executions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.component.jobs.conftest import SYSTEMS_TOML
from tests.component.jobs.test_jobs_local import create, finished, get, until
from tests.conftest import Homei, HomeiFactory
from tests.processes import is_alive
from tests.ssh_env import TEST_PASSWORD, TEST_USER, SshEnv, SshServer, free_port


@pytest.fixture(scope="module")
def four_sshd(sshd_env: SshEnv) -> Iterator[list[SshServer]]:
    servers = sshd_env.start_many(4)
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
async def homei(make_homei: HomeiFactory) -> Homei:
    return await make_homei(SYSTEMS_TOML + "\n[jobs]\nkill_grace = 2.0\n")


async def register(homei: Homei, name: str, port: int, **fields: Any) -> str:
    body = {"name": name, "hostname": "127.0.0.1", "port": port, "username": TEST_USER,
            "password": TEST_PASSWORD, **fields}  # fmt: skip
    response = await homei.client.post("/api/v1/systems", json=body, headers=await homei.auth())
    assert response.status == 201, await response.text()
    return str((await response.json())["id"])


async def test_five_systems_one_down(homei: Homei, four_sshd: list[SshServer]) -> None:
    admin = await homei.auth()
    ids = [await register(homei, f"peer{i}", s.port) for i, s in enumerate(four_sshd)]
    down = await register(homei, "down", free_port())
    job = await create(
        homei, admin, system_ids=[*ids, down], command="whoami; echo oops >&2; exit 4"
    )
    assert len(job["executions"]) == 5
    job = await finished(homei, admin, job["id"])
    assert job["status"] == "failed"
    runs = {e["system_id"]: e for e in job["executions"]}
    for system_id in ids:
        run = runs[system_id]
        assert (run["status"], run["exit_code"]) == ("failed", 4), run
        assert (run["stdout"], run["stderr"]) == (f"{TEST_USER}\n", "oops\n")
    assert runs[down]["status"] == "failed" and runs[down]["exit_code"] is None
    assert runs[down]["error_message"].startswith("SSH_")
    assert {e["system_name"] for e in job["executions"]} == {"peer0", "peer1", "peer2", "peer3",
                                                            "down"}  # fmt: skip

    # At most two at once: no moment is inside three executions' spans.
    job = await create(homei, admin, system_ids=ids, command="sleep 0.5", concurrency=2)
    job = await finished(homei, admin, job["id"])
    assert job["status"] == "completed"
    spans = [(e["started_at"], e["completed_at"]) for e in job["executions"]]
    for start, _ in spans:
        assert sum(1 for s, e in spans if s <= start < e) <= 2, spans


async def remote_pid(homei: Homei, headers: dict[str, str], job_id: str) -> int:
    async def printed() -> str:
        [run] = (await get(homei, headers, job_id))["executions"]
        return str(run["stdout"])

    return int(await until(printed, "the remote shell's pid"))


async def test_timeout_and_cancel_stop_the_remote_command(
    homei: Homei, four_sshd: list[SshServer]
) -> None:
    admin = await homei.auth()
    system = await register(homei, "peer", four_sshd[0].port)
    job = await create(
        homei, admin, system_ids=[system], command="echo $$; exec sleep 60", timeout_seconds=2
    )
    pid = await remote_pid(homei, admin, job["id"])
    job = await finished(homei, admin, job["id"])
    assert job["executions"][0]["status"] == "timeout"
    await until(lambda: asyncio.to_thread(lambda: not is_alive(pid)), "the remote sleep gone")

    job = await create(homei, admin, system_ids=[system], command="echo $$; exec sleep 60")
    pid = await remote_pid(homei, admin, job["id"])
    response = await homei.client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=admin)
    assert response.status == 200
    job = await get(homei, admin, job["id"])
    assert job["executions"][0]["status"] == "cancelled"
    await until(lambda: asyncio.to_thread(lambda: not is_alive(pid)), "the remote sleep gone")


async def test_operators_and_deleted_systems(homei: Homei, four_sshd: list[SshServer]) -> None:
    admin = await homei.auth()
    operator = await homei.add_user("olivia", "operator")
    allowed = await register(homei, "allowed", four_sshd[1].port, operators_allowed=True)
    kept = await register(homei, "kept", four_sshd[2].port)
    refused = await homei.client.post(
        "/api/v1/jobs",
        json={"name": "x", "command": "true", "system_ids": [allowed, kept]},
        headers=operator,
    )
    assert refused.status == 403
    assert (await refused.json())["error"]["details"] == {"system_id": kept}
    job = await create(homei, operator, system_ids=[allowed], command="echo hi")
    assert job["created_by"] == "olivia"
    job = await finished(homei, operator, job["id"])
    assert job["executions"][0]["stdout"] == "hi\n"

    both = await finished(homei, admin, (await create(
        homei, admin, system_ids=[allowed, kept], command="true"))["id"])  # fmt: skip
    assert len(both["executions"]) == 2
    response = await homei.client.delete(f"/api/v1/systems/{allowed}", headers=admin)
    assert response.status == 200, await response.text()
    for job_id in (job["id"], both["id"]):
        left = (await get(homei, admin, job_id))["executions"]
        assert all(e["system_id"] != allowed for e in left)
    assert [e["system_id"] for e in (await get(homei, admin, both["id"]))["executions"]] == [kept]
