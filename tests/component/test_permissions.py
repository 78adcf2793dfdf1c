"""The permission every route must require, written out by hand and held against the routes'
declarations; and a viewer calling each control route of a running service is refused
before anything happens to it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from homei.api.routing import endpoint_of
from tests.component.services.env import install, running, settings_for, sleeper
from tests.conftest import Homei, HomeiFactory
from tests.docker_env import DockerEngine

PUBLIC = None
READ, CONTROL, ADMIN, METRICS = "read", "control", "admin", "metrics"

# Changing a line here is a decision about who may do what: review it as one.
EXPECTED: dict[tuple[str, str], str | None] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/health/live"): PUBLIC,
    ("GET", "/health/ready"): PUBLIC,
    ("GET", "/health/detailed"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/docs/static/{name}"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/assets/{name}"): PUBLIC,
    ("GET", "/metrics"): METRICS,
    ("GET", "/ws/events"): READ,
    ("GET", "/ws/monitoring"): READ,
    ("GET", "/api/v1/metrics/current"): READ,
    ("GET", "/api/v1/metrics/history"): READ,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/session"): PUBLIC,
    ("POST", "/api/v1/auth/session/refresh"): PUBLIC,
    ("DELETE", "/api/v1/auth/session"): PUBLIC,
    ("GET", "/api/v1/auth/me"): READ,
    ("POST", "/api/v1/auth/password"): READ,
    ("GET", "/api/v1/auth/keys"): READ,
    ("POST", "/api/v1/auth/keys"): READ,
    ("DELETE", "/api/v1/auth/keys/{key_id}"): READ,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/users/{username}"): ADMIN,
    ("PATCH", "/api/v1/users/{username}"): ADMIN,
    ("DELETE", "/api/v1/users/{username}"): ADMIN,
    ("GET", "/api/v1/health/services"): READ,
    ("GET", "/api/v1/health/dependencies"): READ,
    ("GET", "/api/v1/status"): READ,
    ("GET", "/api/v1/system/info"): READ,
    ("GET", "/api/v1/logs"): CONTROL,
    ("GET", "/api/v1/system/health"): READ,
    ("GET", "/api/v1/validate/system"): READ,
    ("POST", "/api/v1/validate/service"): READ,
    ("GET", "/api/v1/tasks"): READ,
    ("POST", "/api/v1/tasks"): CONTROL,
    ("GET", "/api/v1/tasks/types"): READ,
    ("GET", "/api/v1/tasks/{task_id}"): READ,
    ("DELETE", "/api/v1/tasks/{task_id}"): CONTROL,
    ("GET", "/api/v1/services"): READ,
    ("POST", "/api/v1/services"): ADMIN,
    ("POST", "/api/v1/services/validate"): READ,
    ("GET", "/api/v1/services/{service_name}"): READ,
    ("PUT", "/api/v1/services/{service_name}"): ADMIN,
    ("DELETE", "/api/v1/services/{service_name}"): ADMIN,
    ("POST", "/api/v1/services/{service_name}/start"): CONTROL,
    ("POST", "/api/v1/services/{service_name}/stop"): CONTROL,
    ("POST", "/api/v1/services/{service_name}/restart"): CONTROL,
    ("POST", "/api/v1/services/{service_name}/control"): CONTROL,
    ("GET", "/api/v1/services/{service_name}/status"): READ,
    ("GET", "/api/v1/services/{service_name}/logs"): CONTROL,
    ("GET", "/api/v1/services/{service_name}/metrics"): READ,
    ("GET", "/ws/services/{service_name}/logs"): CONTROL,
    ("GET", "/api/v1/containers"): READ,
    ("GET", "/api/v1/containers/{container_id}"): READ,
    ("GET", "/api/v1/containers/{container_id}/logs"): CONTROL,
    ("GET", "/api/v1/containers/{container_id}/stats"): READ,
    ("GET", "/ws/containers/{container_id}/logs"): CONTROL,
    ("GET", "/api/v1/images"): READ,
    ("POST", "/api/v1/images/load"): ADMIN,
    ("GET", "/api/v1/config"): READ,
    ("PUT", "/api/v1/config"): ADMIN,
    ("POST", "/api/v1/config/{service_name}/reload"): CONTROL,
    ("POST", "/api/v1/config/{service_name}/secrets/{secret_key}/rotate"): ADMIN,
    ("POST", "/api/v1/config/{service_name}/secrets/{secret_key}/schedule"): ADMIN,
    ("GET", "/api/v1/backups"): READ,
    ("POST", "/api/v1/backups"): CONTROL,
    ("GET", "/api/v1/backups/schedules"): READ,
    ("POST", "/api/v1/backups/upload"): CONTROL,
    ("GET", "/api/v1/backups/{backup_name}"): READ,
    ("DELETE", "/api/v1/backups/{backup_name}"): CONTROL,
    ("GET", "/api/v1/backups/{backup_name}/download"): CONTROL,
    ("POST", "/api/v1/backups/{backup_name}/restore"): CONTROL,
    ("GET", "/api/v1/jobs"): READ,
    ("POST", "/api/v1/jobs"): CONTROL,
    ("GET", "/api/v1/jobs/{job_id}"): READ,
    ("POST", "/api/v1/jobs/{job_id}/cancel"): CONTROL,
    ("GET", "/ws/jobs/{job_id}"): READ,
    ("GET", "/api/v1/dashboard"): READ,
    ("GET", "/api/v1/alerts"): READ,
    ("GET", "/api/v1/alerts/settings"): READ,
    ("POST", "/api/v1/alerts/settings"): ADMIN,
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): CONTROL,
    ("GET", "/api/v1/fleet"): READ,
    ("PUT", "/api/v1/fleet"): ADMIN,
    ("POST", "/api/v1/fleet/actions/{action_id}/confirm"): ADMIN,
    ("POST", "/api/v1/fleet/actions/{action_id}/deny"): ADMIN,
    ("GET", "/api/v1/update/status"): READ,
    ("GET", "/api/v1/update/gate"): PUBLIC,
    ("GET", "/api/v1/update/history"): READ,
    ("GET", "/api/v1/update/bundles"): READ,
    ("POST", "/api/v1/update/bundles"): ADMIN,
    ("DELETE", "/api/v1/update/bundles/{name}"): ADMIN,
    ("GET", "/api/v1/artifacts"): READ,
    ("POST", "/api/v1/artifacts"): ADMIN,
    ("DELETE", "/api/v1/artifacts/{name}/{version}"): ADMIN,
    ("POST", "/api/v1/update/install"): ADMIN,
    ("POST", "/api/v1/update/mark-good"): ADMIN,
    ("POST", "/api/v1/update/mark-bad"): ADMIN,
    ("POST", "/api/v1/update/mark-active"): ADMIN,
    ("GET", "/api/v1/systems"): READ,
    ("POST", "/api/v1/systems"): ADMIN,
    ("GET", "/api/v1/systems/key"): READ,
    ("GET", "/api/v1/systems/{system_id}"): READ,
    ("PUT", "/api/v1/systems/{system_id}"): ADMIN,
    ("DELETE", "/api/v1/systems/{system_id}"): ADMIN,
    ("POST", "/api/v1/systems/{system_id}/test"): ADMIN,
    ("POST", "/api/v1/systems/{system_id}/accept-host-key"): ADMIN,
    ("POST", "/api/v1/config/validate"): READ,
    ("GET", "/api/v1/config/{service_name}"): READ,
    ("PUT", "/api/v1/config/{service_name}"): ADMIN,
    ("GET", "/api/v1/config/{service_name}/versions"): READ,
    ("POST", "/api/v1/config/{service_name}/versions/{version}/restore"): ADMIN,
    ("GET", "/api/v1/config/{service_name}/export"): READ,
    ("POST", "/api/v1/config/{service_name}/import"): ADMIN,
}

_VARIABLE = re.compile(r"{([^}:]+):[^}]*}")
SERVICE = "guarded"
# A value each path parameter's pattern accepts; the refusal comes before any lookup.
SAMPLES = {
    "service_name": SERVICE,
    "container_id": SERVICE,
    "backup_name": "guarded-20240101-000000.tar",
    "task_id": "task-0000000000000000",
    "name": "guarded.raucb",
    "key_id": "key-0",
    "username": "someone",
    "system_id": "local",
    "version": "1",
    "secret_key": "API_KEY",
    "alert_id": "alert-0000000000000000",
    "job_id": "00000000-0000-0000-0000-000000000000",
    "action_id": "1",
}


def declared_permissions(homei: Homei) -> dict[tuple[str, str], str | None]:
    found: dict[tuple[str, str], str | None] = {}
    for route in homei.client.app.router.routes():
        declared = endpoint_of(route.handler)
        if declared is None or route.resource is None or route.method == "HEAD":
            continue
        path = _VARIABLE.sub(r"{\1}", route.resource.canonical)
        permission = declared.permission
        found[(route.method, path)] = None if permission is None else str(permission)
    return found


async def test_every_route_requires_the_permission_in_the_table(homei: Homei) -> None:
    declared = declared_permissions(homei)
    assert set(declared) == set(EXPECTED), {
        "routes without a line": sorted(set(declared) - set(EXPECTED)),
        "lines without a route": sorted(set(EXPECTED) - set(declared)),
    }
    wrong = {
        key: (value, EXPECTED[key]) for key, value in declared.items() if value != EXPECTED[key]
    }
    assert not wrong, f"(declared, expected): {wrong}"


@pytest.fixture
async def device(engine: DockerEngine, make_homei: HomeiFactory) -> AsyncIterator[Homei]:
    homei = await make_homei(settings_for(engine))
    yield homei
    await homei.client.close()
    await asyncio.to_thread(engine.remove_containers, "io.homei.managed")


async def test_a_viewer_is_refused_every_control_route(engine: DockerEngine, device: Homei) -> None:
    admin = await device.auth()
    await install(device, admin, sleeper(SERVICE))
    assert await running(engine, SERVICE)
    viewer = await device.add_user("vic", "viewer")
    refused = 0
    for (method, template), permission in EXPECTED.items():
        if permission not in (CONTROL, ADMIN):
            continue
        path = template.format(**SAMPLES)
        response = await device.client.request(method, path, headers=viewer, json={})
        body = await response.json()
        assert response.status == 403, (method, path, body)
        assert body["error"]["code"] == "FORBIDDEN"
        assert body["error"]["details"]["required"] == permission
        refused += 1
    assert refused >= 30
    # Nothing was stopped, restarted or removed on the way.
    assert await running(engine, SERVICE)
    status = await device.client.get(f"/api/v1/services/{SERVICE}/status", headers=viewer)
    assert status.status == 200
