"""`/api/v1/systems` over real HTTP against real sshd: roles, 004's shapes and filters, the
connection test, host key pinning and acceptance, the device's key, delete, and a password
that never shows up in a response or a log line."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.component.jobs.conftest import SYSTEMS_TOML
from tests.ssh_env import TEST_PASSWORD, TEST_USER, free_port

SYSTEMS = "/api/v1/systems"


@pytest.fixture
async def homei(make_homei):
    return await make_homei(SYSTEMS_TOML)


async def call(homei, method, path, headers, status, **kwargs):
    response = await homei.client.request(method, path, headers=headers, **kwargs)
    text = await response.text()
    assert response.status == status, (method, path, text)
    assert TEST_PASSWORD not in text
    return await response.json()


def peer(port: int, name: str, **fields) -> dict:
    return {"name": name, "hostname": "127.0.0.1", "port": port, "username": TEST_USER,
            "password": TEST_PASSWORD, **fields}  # fmt: skip


async def test_register_list_filter_test_and_delete(homei, sshd, caplog):
    caplog.set_level(logging.DEBUG)
    admin = await homei.auth()
    operator = await homei.add_user("olga", "operator")
    viewer = await homei.add_user("vic", "viewer")

    made = await call(homei, "POST", SYSTEMS, admin, 201, json=peer(sshd.port, "nas"))
    assert made["health_status"] == "unknown" and made["auth_method"] == "password"
    assert made["host_key_fingerprint"] is None and made["operators_allowed"] is False
    for who in (operator, viewer):
        await call(homei, "POST", SYSTEMS, who, 403, json=peer(sshd.port, "other"))
    await call(homei, "POST", SYSTEMS, admin, 409, json=peer(sshd.port, "nas"))
    refused = await call(homei, "POST", SYSTEMS, admin, 400, json=peer(sshd.port, "key"))
    assert refused["error"]["code"] == "VALIDATION_ERROR"
    await call(homei, "POST", SYSTEMS, admin, 201,
               json=peer(sshd.port, "win", system_type="windows", is_active=False))  # fmt: skip

    listed = await call(homei, "GET", SYSTEMS, viewer, 200)
    assert [s["name"] for s in listed["systems"]] == ["local", "nas", "win"]
    assert (listed["total"], listed["limit"], listed["offset"]) == (3, 50, 0)
    local = listed["systems"][0]
    assert local["id"] == "local" and local["auth_method"] == "local"
    only = await call(homei, "GET", f"{SYSTEMS}?system_type=windows", viewer, 200)
    assert [s["name"] for s in only["systems"]] == ["win"] and only["total"] == 1
    active = await call(homei, "GET", f"{SYSTEMS}?active=true&limit=1&offset=1", viewer, 200)
    assert [s["name"] for s in active["systems"]] == ["nas"] and active["total"] == 2

    await call(homei, "POST", f"{SYSTEMS}/{made['id']}/test", operator, 403)
    tested = await call(homei, "POST", f"{SYSTEMS}/{made['id']}/test", admin, 200)
    assert tested["success"] is True and tested["response_time_ms"] > 0
    assert tested["system_info"]["whoami_output"] == TEST_USER
    assert tested["system_info"]["os_info"].startswith("Linux ")
    assert tested["system_info"]["hostname"]
    assert tested["host_key_fingerprint"] == sshd.env.host_key_fingerprint("a")
    got = await call(homei, "GET", f"{SYSTEMS}/{made['id']}", viewer, 200)
    assert got["health_status"] == "healthy" and got["last_health_check"]
    assert got["host_key_fingerprint"] == tested["host_key_fingerprint"]

    changed = await call(homei, "PUT", f"{SYSTEMS}/{made['id']}", admin, 200,
                         json={"operators_allowed": True, "description": "the NAS"})  # fmt: skip
    assert changed["operators_allowed"] is True and changed["host_key_fingerprint"]
    taken = await call(homei, "PUT", f"{SYSTEMS}/{made['id']}", admin, 409, json={"name": "win"})
    assert taken["error"]["code"] == "SYSTEM_NAME_TAKEN"
    await call(homei, "PUT", f"{SYSTEMS}/local", admin, 409, json={"description": "x"})
    await call(homei, "DELETE", f"{SYSTEMS}/local", admin, 409)
    await call(homei, "POST", f"{SYSTEMS}/local/test", admin, 409)
    await call(homei, "DELETE", f"{SYSTEMS}/{made['id']}", operator, 403)
    gone = await call(homei, "DELETE", f"{SYSTEMS}/{made['id']}", admin, 200)
    assert gone["message"] == "System deleted successfully"
    missing = await call(homei, "GET", f"{SYSTEMS}/{made['id']}", viewer, 404)
    assert missing["error"]["code"] == "SYSTEM_NOT_FOUND"
    rows = await homei.components.store.fetch_all("SELECT * FROM system_secrets")
    assert len(rows) == 1  # only the windows system's, sealed

    assert TEST_PASSWORD not in caplog.text


async def test_key_login_with_the_published_public_key(homei, sshd):
    admin = await homei.auth()
    viewer = await homei.add_user("vic", "viewer")
    key = await call(homei, "GET", f"{SYSTEMS}/key", viewer, 200)
    assert key["public_key"].startswith("ssh-ed25519 ") and key["algorithm"] == "ssh-ed25519"
    again = await call(homei, "GET", f"{SYSTEMS}/key", viewer, 200)
    assert again == key  # made once
    body = {"name": "by-key", "hostname": "127.0.0.1", "port": sshd.port, "username": "root"}
    made = await call(homei, "POST", SYSTEMS, admin, 201, json=body)
    assert made["auth_method"] == "key"
    before = await call(homei, "POST", f"{SYSTEMS}/{made['id']}/test", admin, 200)
    assert before["success"] is False and before["error"]["code"] == "SSH_AUTH_FAILED"

    sshd.env.authorize(key["public_key"])
    after = await call(homei, "POST", f"{SYSTEMS}/{made['id']}/test", admin, 200)
    assert after["success"] is True and after["system_info"]["whoami_output"] == "root"


async def test_changed_host_key_until_an_admin_accepts_it(homei, sshd_env):
    admin = await homei.auth()
    port = free_port()
    server = await asyncio.to_thread(sshd_env.start, port=port, host_key="a")
    made = await call(homei, "POST", SYSTEMS, admin, 201, json=peer(port, "moved"))
    test = f"{SYSTEMS}/{made['id']}/test"
    first = await call(homei, "POST", test, admin, 200)
    assert first["host_key_fingerprint"] == sshd_env.host_key_fingerprint("a")

    await asyncio.to_thread(server.stop)
    await asyncio.to_thread(sshd_env.start, port=port, host_key="b")
    refused = await call(homei, "POST", test, admin, 200)
    assert refused["success"] is False and refused["error"]["code"] == "HOST_KEY_MISMATCH"
    new = sshd_env.host_key_fingerprint("b")
    assert new in refused["error"]["message"]
    assert refused["host_key_fingerprint"] == first["host_key_fingerprint"]  # still pinned

    accept = f"{SYSTEMS}/{made['id']}/accept-host-key"
    wrong = await call(homei, "POST", accept, admin, 409, json={"fingerprint": "SHA256:nope"})
    assert wrong["error"]["code"] == "HOST_KEY_NOT_OFFERED"
    accepted = await call(homei, "POST", accept, admin, 200, json={"fingerprint": new})
    assert accepted["host_key_fingerprint"] == new
    assert (await call(homei, "POST", test, admin, 200))["success"] is True


async def test_unreachable_system_answers_a_clean_failure(homei):
    admin = await homei.auth()
    made = await call(homei, "POST", SYSTEMS, admin, 201, json=peer(free_port(), "down"))
    result = await call(homei, "POST", f"{SYSTEMS}/{made['id']}/test", admin, 200)
    assert result["success"] is False and result["system_info"] is None
    assert result["error"]["code"] == "SSH_UNREACHABLE" and "refused" in result["error"]["message"]
    got = await call(homei, "GET", f"{SYSTEMS}/{made['id']}", admin, 200)
    assert got["health_status"] == "unhealthy"


async def test_the_key_route_is_not_taken_for_a_system_id(homei):
    admin = await homei.auth()
    for method in ("PUT", "DELETE"):
        response = await homei.client.request(method, f"{SYSTEMS}/key", headers=admin, json={})
        assert response.status == 405, await response.text()
    await call(homei, "GET", f"{SYSTEMS}/NOT-AN-ID", admin, 404)
