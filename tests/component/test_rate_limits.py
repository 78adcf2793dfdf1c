"""Rate limits over real HTTP: each quota (anonymous, authenticated, admin, endpoint group)
refuses the request after its last with 429 `RATE_LIMITED`, `Retry-After` and
`X-RateLimit-Remaining: 0`, and counts only what it should."""

from __future__ import annotations

from typing import Any

from tests.conftest import NO_DOCKER

NO_RAUC = '[update]\ndbus_address = "unix:path=/nonexistent/homei-test-bus"\n'


def limits(**quotas: int) -> str:
    """Settings with every quota open except those given."""
    merged = {
        "anonymous": 100000,
        "authenticated": 100000,
        "admin": 100000,
        "health": 100000,
        "services": 100000,
        **quotas,
    }
    body = "".join(f"{name} = {value}\n" for name, value in merged.items())
    return f"[rate_limits]\n{body}" + NO_DOCKER + NO_RAUC


async def spend(homei: Any, path: str, quota: int, headers: dict[str, str] | None = None) -> None:
    """Make the `quota` requests allowed, checking the countdown, then the refused one."""
    for used in range(1, quota + 1):
        response = await homei.client.get(path, headers=headers)
        assert response.status != 429, (path, used)
        assert response.headers["X-RateLimit-Limit"] == str(quota)
        assert response.headers["X-RateLimit-Remaining"] == str(quota - used)
    response = await homei.client.get(path, headers=headers)
    assert response.status == 429, await response.text()
    body = await response.json()
    assert body["error"]["code"] == "RATE_LIMITED"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-Request-ID"]


async def test_anonymous_quota(make_homei):
    homei = await make_homei(limits(anonymous=3))
    await spend(homei, "/api/v1/tasks", 3)  # 401s count: they cost the server too
    # Health probes count only against the health group, never the anonymous quota.
    response = await homei.client.get("/health")
    assert response.status == 200


async def test_authenticated_quota(make_homei):
    homei = await make_homei(limits(authenticated=3))
    viewer = await homei.add_user("vera", "viewer")
    await spend(homei, "/api/v1/tasks", 3, viewer)
    # Another user has a quota of its own; the admin's is the admin quota.
    other = await homei.add_user("otto", "viewer")
    assert (await homei.client.get("/api/v1/tasks", headers=other)).status == 200
    admin = await homei.auth()
    assert (await homei.client.get("/api/v1/tasks", headers=admin)).status == 200


async def test_admin_quota(make_homei):
    homei = await make_homei(limits(admin=3))
    admin = await homei.auth()
    await spend(homei, "/api/v1/tasks", 3, admin)


async def test_group_quota(make_homei):
    homei = await make_homei(limits(services=2))
    viewer = await homei.add_user("vera", "viewer")
    await spend(homei, "/api/v1/services", 2, viewer)
    # The same caller on a route outside the group is not refused.
    assert (await homei.client.get("/api/v1/tasks", headers=viewer)).status == 200


async def test_health_group_quota(make_homei):
    homei = await make_homei(limits(health=2, anonymous=1))
    await spend(homei, "/health", 2)
