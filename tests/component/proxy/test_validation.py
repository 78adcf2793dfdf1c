"""Seed 003's validation routes: a service checked before it is declared, and the device."""

from __future__ import annotations

import socket

import pytest

from tests.caddy_env import caddy_available
from tests.component.proxy.conftest import proxy_settings
from tests.component.proxy.test_routes import web
from tests.component.services.env import call, install, settings_for
from tests.daemon_process import free_port
from tests.docker_env import IMAGE, dockerd_available

pytestmark = pytest.mark.skipif(
    not (dockerd_available() and caddy_available()), reason="dockerd or caddy is not installed"
)


def codes(verdict: dict) -> dict[str, str]:
    return {e["field"]: e["code"] for e in verdict["errors"]}


async def test_a_service_is_validated_with_every_problem_named(homei, caddy):
    headers = await homei.auth()
    used = free_port()
    await install(homei, headers, web("web", "web.local", used))

    fine = await call(
        homei,
        "POST",
        "/api/v1/validate/service",
        headers,
        json=web("new", "new.local", free_port()),
    )
    assert fine == {
        "valid": True,
        "errors": [],
        "warnings": [],
        "checks": {
            "spec_valid": True,
            "name_available": True,
            "port_available": True,
            "domain_valid": True,
            "admissible": True,
        },
    }

    # Seed 003's body: a taken name; another service's port and domain, both at once.
    verdict = await call(
        homei, "POST", "/api/v1/validate/service", headers, json={"project_name": "web"}
    )
    assert codes(verdict) == {"project_name": "DUPLICATE_PROJECT_NAME"}
    assert verdict["checks"]["name_available"] is False
    verdict = await call(
        homei,
        "POST",
        "/api/v1/validate/service",
        headers,
        json={"project_name": "web2", "port": used, "domain": "web.local", "created_by": "x"},
    )
    assert verdict["valid"] is False
    assert codes(verdict) == {"port": "PORT_IN_USE", "domain": "DOMAIN_TAKEN"}

    # A port something else on the device listens on; a malformed domain.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        verdict = await call(
            homei,
            "POST",
            "/api/v1/validate/service",
            headers,
            json={"project_name": "fresh", "port": busy, "domain": "bad_domain"},
        )
    assert codes(verdict) == {"port": "PORT_IN_USE", "domain": "INVALID_DOMAIN"}

    # Homei's own body: the spec's rules, and what an install would refuse besides.
    bad = await call(
        homei, "POST", "/api/v1/validate/service", headers, json={"name": "x", "image": ""}
    )
    assert bad["valid"] is False and bad["checks"] == {"spec_valid": False}
    missing = await call(
        homei,
        "POST",
        "/api/v1/validate/service",
        headers,
        json={"name": "lonely", "image": IMAGE, "depends_on": ["nobody"]},
    )
    assert missing["valid"] is False and missing["errors"][0]["code"] == "DEPENDENCY_ERROR"
    # Nothing was declared by any of it.
    listed = await call(homei, "GET", "/api/v1/services", headers)
    assert [s["name"] for s in listed["services"]] == ["web"]


async def test_the_system_is_validated_and_its_health_reported(homei, caddy):
    headers = await homei.auth()
    verdict = await call(homei, "GET", "/api/v1/validate/system", headers)
    checks = verdict["checks"]
    assert checks["caddy_available"] is True and checks["caddy_writable"] is True
    assert checks["base_directory_writable"] is True
    assert set(checks["required_tools"]) == {"systemctl", "journalctl", "caddy"}
    assert checks["required_tools"]["caddy"] is True
    assert verdict["is_valid"] is (not verdict["errors"])
    health = await call(homei, "GET", "/api/v1/system/health", headers)
    assert health["healthy"] is True and health["checks"]["caddy"] is True


async def test_a_caddy_without_homeis_server_makes_the_system_unhealthy(engine, caddy, make_homei):
    homei = await make_homei(
        settings_for(engine, proxy_settings(caddy, server="absent")),
        parts=frozenset(),
        HOMEI_PROXY__ENABLED="true",
    )
    headers = await homei.auth()
    verdict = await call(homei, "GET", "/api/v1/validate/system", headers)
    assert verdict["is_valid"] is False
    assert verdict["checks"]["caddy_available"] is True
    assert verdict["checks"]["caddy_writable"] is False
    assert [e["code"] for e in verdict["errors"]] == ["CADDY_NOT_WRITABLE"]
    body = await call(homei, "GET", "/api/v1/system/health", headers, 503)
    assert body["error"]["code"] == "SYSTEM_UNHEALTHY"
    assert body["error"]["details"]["checks"]["caddy"] is False
    await homei.client.close()


async def test_caddy_not_answering_is_a_warning_of_the_system(engine, caddy, make_homei):
    homei = await make_homei(
        settings_for(engine, f'[proxy]\nadmin_url = "http://127.0.0.1:{free_port()}"\n'),
        parts=frozenset(),
        HOMEI_PROXY__ENABLED="true",
    )
    headers = await homei.auth()
    verdict = await call(homei, "GET", "/api/v1/validate/system", headers)
    assert verdict["checks"]["caddy_available"] is False
    assert "MISSING_CADDY" in [w["code"] for w in verdict["warnings"]]
    await homei.client.close()
