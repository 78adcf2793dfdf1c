"""Logging in, tokens, roles, API keys and their revocation, over real HTTP."""

from __future__ import annotations

import os
import secrets
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt

from homei.core.api_keys import KEY_CACHE_SIZE
from tests.daemon_process import start_homei


async def test_first_run_writes_admin_password_0600(homei):
    path = homei.settings.initial_password_file
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(homei.admin_password) >= 16
    secret = homei.settings.secrets_dir / "jwt.key"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600


async def test_password_is_stored_only_as_scrypt_hash(homei):
    rows = await homei.components.store.fetch_all("SELECT password_hash FROM users")
    assert rows and all(r[0].startswith("scrypt$") for r in rows)
    assert all(homei.admin_password not in r[0] for r in rows)


async def test_login_answer_has_fields_of_both_seeds(homei):
    body = await homei.login()
    assert body["token"] == body["access_token"]
    assert body["expiresIn"] == body["expires_in"] == 3600
    assert body["token_type"] == "bearer"
    assert body["refresh_token"] and body["refresh_expires_in"] == 7 * 86400
    assert body["user"]["username"] == "admin" and body["user"]["roles"] == ["admin"]


async def test_token_alias_logs_in(homei):
    response = await homei.client.post(
        "/api/v1/auth/token", json={"username": "admin", "password": homei.admin_password}
    )
    assert response.status == 200
    assert (await response.json())["access_token"]


async def test_wrong_password_is_401(homei):
    response = await homei.client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": "wrong-password"}
    )
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "UNAUTHORIZED"


async def test_me_and_missing_or_bad_tokens(homei):
    headers = await homei.auth()
    response = await homei.client.get("/api/v1/auth/me", headers=headers)
    assert response.status == 200
    assert (await response.json())["username"] == "admin"
    for bad in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        response = await homei.client.get("/api/v1/auth/me", headers=bad)
        assert response.status == 401, bad
        assert (await response.json())["error"]["code"] == "UNAUTHORIZED"


async def test_token_signed_with_another_secret_is_refused(homei):
    forged = jwt.encode(
        {"sub": "user-1", "ver": 1, "typ": "access", "iss": "homei", "exp": 9999999999},
        b"x" * 64,
        algorithm="HS256",
    )
    response = await homei.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status == 401


async def test_refresh_issues_a_new_pair_and_refuses_access_tokens(homei):
    body = await homei.login()
    response = await homei.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}
    )
    assert response.status == 200
    renewed = await response.json()
    response = await homei.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {renewed['access_token']}"}
    )
    assert response.status == 200
    response = await homei.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": body["access_token"]}
    )
    assert response.status == 401


async def test_roles_map_to_permissions(homei):
    viewer = await homei.add_user("vera", "viewer")
    operator = await homei.add_user("otto", "operator")
    admin = await homei.auth()
    # Everyone may read.
    for headers in (viewer, operator, admin):
        assert (await homei.client.get("/api/v1/tasks", headers=headers)).status == 200
    # Operators and admins control; viewers may not.
    body = {"type": "database_check"}
    response = await homei.client.post("/api/v1/tasks", json=body, headers=viewer)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "FORBIDDEN"
    assert (await homei.client.post("/api/v1/tasks", json=body, headers=operator)).status == 202
    # Only admins manage users.
    assert (await homei.client.get("/api/v1/users", headers=operator)).status == 403
    assert (await homei.client.get("/api/v1/users", headers=admin)).status == 200


async def test_password_change_revokes_that_users_tokens(homei):
    old = await homei.add_user("pat", "operator", "first-password")
    response = await homei.client.post(
        "/api/v1/auth/password",
        headers=old,
        json={"current_password": "first-password", "new_password": "second-password"},
    )
    assert response.status == 200
    assert (await homei.client.get("/api/v1/auth/me", headers=old)).status == 401
    new = await homei.auth("pat", "second-password")
    assert (await homei.client.get("/api/v1/auth/me", headers=new)).status == 200


async def test_password_change_needs_the_current_password(homei):
    headers = await homei.add_user("sam", "viewer", "first-password")
    response = await homei.client.post(
        "/api/v1/auth/password",
        headers=headers,
        json={"current_password": "not-it", "new_password": "second-password"},
    )
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["details"]["fields"][0]["path"] == "body.current_password"
    assert (await homei.client.get("/api/v1/auth/me", headers=headers)).status == 200


async def test_admin_password_reset_revokes_tokens(homei):
    user = await homei.add_user("kim", "viewer", "first-password")
    response = await homei.client.patch(
        "/api/v1/users/kim", headers=await homei.auth(), json={"password": "reset-password"}
    )
    assert response.status == 200
    assert (await homei.client.get("/api/v1/auth/me", headers=user)).status == 401


async def test_api_keys_are_listed_capped_and_revocable(homei):
    operator = await homei.add_user("ops", "operator")
    response = await homei.client.post(
        "/api/v1/auth/keys", headers=operator, json={"name": "too-much", "role": "admin"}
    )
    assert response.status == 400
    response = await homei.client.post(
        "/api/v1/auth/keys", headers=operator, json={"name": "prometheus", "role": "metrics"}
    )
    assert response.status == 201
    created = await response.json()
    key = {"Authorization": f"Bearer {created['key']}"}
    assert created["key"].startswith("hk_")
    # A metrics key scrapes /metrics and nothing else.
    assert (await homei.client.get("/metrics", headers=key)).status == 200
    assert (await homei.client.get("/api/v1/tasks", headers=key)).status == 403
    listed = await (await homei.client.get("/api/v1/auth/keys", headers=operator)).json()
    assert [k["name"] for k in listed["keys"]] == ["prometheus"]
    assert "key" not in listed["keys"][0]
    response = await homei.client.delete(f"/api/v1/auth/keys/{created['id']}", headers=operator)
    assert response.status == 200
    assert (await homei.client.get("/metrics", headers=key)).status == 401


async def test_api_key_with_a_wrong_secret_is_refused(homei):
    response = await homei.client.post(
        "/api/v1/auth/keys", headers=await homei.auth(), json={"name": "script"}
    )
    created = await response.json()
    forged = created["key"][:-4] + "AAAA"
    response = await homei.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status == 401


async def test_the_last_admin_cannot_be_removed_or_demoted(homei):
    admin = await homei.auth()
    response = await homei.client.patch(
        "/api/v1/users/admin", headers=admin, json={"role": "viewer"}
    )
    assert response.status == 409
    await homei.add_user("second", "admin")
    response = await homei.client.delete("/api/v1/users/admin", headers=admin)
    assert response.status == 409  # not your own account
    second = await homei.auth("second", "correct-horse")
    assert (await homei.client.delete("/api/v1/users/admin", headers=second)).status == 200
    assert (await homei.client.delete("/api/v1/users/second", headers=second)).status == 409


async def test_duplicate_user_is_409(homei):
    await homei.add_user("dup", "viewer")
    response = await homei.client.post(
        "/api/v1/users",
        headers=await homei.auth(),
        json={"username": "dup", "password": "long-enough"},
    )
    assert response.status == 409


async def test_failed_logins_from_one_address_are_slowed_down(make_homei):
    homei = await make_homei("[auth]\nlogin_free_attempts = 3\n[rate_limits]\nenabled = false\n")
    for _ in range(3):
        response = await homei.client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": "guess-1234"}
        )
        assert response.status == 401
    # Even the right password must wait now: the address has used its free attempts.
    response = await homei.client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": homei.admin_password}
    )
    assert response.status == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert (await response.json())["error"]["code"] == "RATE_LIMITED"


async def test_made_up_api_keys_do_not_grow_the_daemon(homei):
    for index in range(2 * KEY_CACHE_SIZE):
        made_up = f"hk_{index:012x}_{secrets.token_urlsafe(8)}"
        response = await homei.client.get(
            "/api/v1/tasks", headers={"Authorization": f"Bearer {made_up}"}
        )
        assert response.status == 401
    assert homei.components.accounts.keys.cached_count <= KEY_CACHE_SIZE


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_a_burst_of_logins_leaves_no_memory_behind(tmp_path):
    """Each scrypt hash takes 16 MiB; none of it may stay resident after the logins."""
    daemon = start_homei(tmp_path, HOMEI_RATE_LIMITS__ENABLED="false")
    try:
        daemon.login()
        before = rss_mib(daemon.process.pid)
        with ThreadPoolExecutor(12) as pool:
            tokens = list(pool.map(lambda _: daemon.login(), range(36)))
        assert len(set(tokens)) == 36
        grown = rss_mib(daemon.process.pid) - before
        assert grown < 40, f"RSS grew by {grown:.1f} MiB over 36 logins"
    finally:
        daemon.stop()
