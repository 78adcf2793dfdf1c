"""Refresh sessions and revocation: single-use refresh tokens, what revokes a user's tokens
(and what does not), API keys capped by their owner's role, and restores that bring back no
revoked credential."""

from __future__ import annotations

import pytest
from aiohttp import web

from homei.app import build
from homei.core.errors import Unauthorized


async def refresh(homei, token: str, *, in_header: bool = False):
    if in_header:
        return await homei.client.post(
            "/api/v1/auth/refresh", headers={"Authorization": f"Bearer {token}"}
        )
    return await homei.client.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def test_a_refresh_token_works_once_and_its_reuse_ends_the_session(homei):
    first = (await homei.login())["refresh_token"]
    other = (await homei.login())["refresh_token"]  # a second session of the same user
    response = await refresh(homei, first)
    assert response.status == 200
    second = (await response.json())["refresh_token"]
    assert second != first
    # The used one again: refused, and the whole session with it (its newest token too).
    response = await refresh(homei, first)
    assert response.status == 401
    assert "already used" in (await response.json())["error"]["message"]
    assert (await refresh(homei, second)).status == 401
    # Another session is not touched.
    response = await refresh(homei, other)
    assert response.status == 200
    assert (await refresh(homei, (await response.json())["refresh_token"])).status == 200


async def test_used_refresh_tokens_stay_used_across_a_restart(homei):
    first = (await homei.login())["refresh_token"]
    second = (await (await refresh(homei, first)).json())["refresh_token"]
    # A second daemon on the same database, as after a restart: nothing is remembered only
    # in the first one's memory.
    app, components = await build(homei.settings)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        with pytest.raises(Unauthorized):
            await components.accounts.refresh(first)
        with pytest.raises(Unauthorized):
            await components.accounts.refresh(second)  # the reuse ended the session
    finally:
        await runner.cleanup()


async def test_refresh_takes_the_token_in_the_authorization_header(homei):
    body = await homei.login()
    response = await refresh(homei, body["refresh_token"], in_header=True)
    assert response.status == 200, await response.text()
    renewed = await response.json()
    response = await homei.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {renewed['access_token']}"}
    )
    assert response.status == 200
    assert (await refresh(homei, body["access_token"], in_header=True)).status == 401
    response = await homei.client.post("/api/v1/auth/refresh")
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "UNAUTHORIZED"


async def change_password(homei, headers):
    response = await homei.client.post(
        "/api/v1/auth/password",
        headers=headers,
        json={"current_password": "correct-horse", "new_password": "another-horse"},
    )
    assert response.status == 200


async def reset_password(homei, headers):
    response = await homei.client.patch(
        "/api/v1/users/lee", headers=await homei.auth(), json={"password": "reset-password"}
    )
    assert response.status == 200


async def change_role(homei, headers):
    response = await homei.client.patch(
        "/api/v1/users/lee", headers=await homei.auth(), json={"role": "viewer"}
    )
    assert response.status == 200


async def delete_user(homei, headers):
    response = await homei.client.delete("/api/v1/users/lee", headers=await homei.auth())
    assert response.status == 200


@pytest.mark.parametrize(
    "revoke",
    [change_password, reset_password, change_role, delete_user],
    ids=["password-change", "password-reset", "role-change", "deletion"],
)
async def test_revocation_refuses_the_old_refresh_token(homei, revoke):
    await homei.add_user("lee", "operator")
    body = await homei.login("lee", "correct-horse")
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    await revoke(homei, headers)
    response = await refresh(homei, body["refresh_token"])
    assert response.status == 401, await response.text()
    assert (await homei.client.get("/api/v1/auth/me", headers=headers)).status == 401


async def test_setting_the_role_a_user_has_revokes_nothing(homei):
    await homei.add_user("ray", "operator")
    body = await homei.login("ray", "correct-horse")
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    response = await homei.client.patch(
        "/api/v1/users/ray", headers=await homei.auth(), json={"role": "operator"}
    )
    assert response.status == 200
    assert (await homei.client.get("/api/v1/auth/me", headers=headers)).status == 200
    assert (await refresh(homei, body["refresh_token"])).status == 200


async def test_an_api_key_follows_its_owners_role_down(homei):
    owner = await homei.add_user("ada", "admin")
    response = await homei.client.post(
        "/api/v1/auth/keys", headers=owner, json={"name": "automation"}
    )
    created = await response.json()
    assert created["role"] == "admin"
    key = {"Authorization": f"Bearer {created['key']}"}
    assert (await homei.client.get("/api/v1/users", headers=key)).status == 200
    response = await homei.client.patch(
        "/api/v1/users/ada", headers=await homei.auth(), json={"role": "viewer"}
    )
    assert response.status == 200
    response = await homei.client.get("/api/v1/users", headers=key)
    assert response.status == 403
    assert (await response.json())["error"]["details"]["role"] == "viewer"
    assert (await homei.client.get("/api/v1/tasks", headers=key)).status == 200
    listed = await (await homei.client.get("/api/v1/auth/keys", headers=await homei.auth())).json()
    assert [k["role"] for k in listed["keys"] if k["id"] == created["id"]] == ["viewer"]


async def test_a_restore_brings_back_no_revoked_credential(homei):
    admin = await homei.auth()
    await homei.add_user("pat", "admin", "old-password")
    await homei.add_user("gone", "viewer", "gone-password")
    pat = await homei.login("pat", "old-password")
    pat_headers = {"Authorization": f"Bearer {pat['access_token']}"}
    response = await homei.client.post("/api/v1/auth/keys", headers=pat_headers, json={"name": "k"})
    key = await response.json()
    response = await homei.client.post(
        "/api/v1/backups", json={"type": "partial", "homei": True}, headers=admin
    )
    assert response.status == 202, await response.text()
    started = await response.json()
    assert (await homei.components.tasks.wait(started["taskId"])).status == "completed"

    # After the backup: a password change, a revoked key, a deleted user, a demotion.
    response = await homei.client.post(
        "/api/v1/auth/password",
        headers=pat_headers,
        json={"current_password": "old-password", "new_password": "new-password"},
    )
    assert response.status == 200
    response = await homei.client.delete(f"/api/v1/auth/keys/{key['id']}", headers=admin)
    assert response.status == 200
    assert (await homei.client.delete("/api/v1/users/gone", headers=admin)).status == 200
    response = await homei.client.patch("/api/v1/users/pat", headers=admin, json={"role": "viewer"})
    assert response.status == 200

    response = await homei.client.post(f"/api/v1/backups/{started['name']}/restore", headers=admin)
    assert response.status == 202, await response.text()
    task = await homei.components.tasks.wait((await response.json())["taskId"])
    assert task.status == "completed", task.error

    for username, password in (("pat", "old-password"), ("gone", "gone-password")):
        response = await homei.client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status == 401, username
    assert (await refresh(homei, pat["refresh_token"])).status == 401
    assert (await homei.client.get("/api/v1/auth/me", headers=pat_headers)).status == 401
    response = await homei.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {key['key']}"}
    )
    assert response.status == 401
    users = await (await homei.client.get("/api/v1/users", headers=admin)).json()
    assert {u["username"]: u["role"] for u in users["users"]} == {"admin": "admin", "pat": "viewer"}
    assert (await homei.login("pat", "new-password"))["user"]["role"] == "viewer"
