"""Services with a domain answer through a real Caddy, and Homei keeps their routes there."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.caddy_env import CaddyServer, caddy_available
from tests.component.services.env import call, httpd, install, until, wait_task
from tests.daemon_process import free_port
from tests.docker_env import dockerd_available

pytestmark = pytest.mark.skipif(
    not (dockerd_available() and caddy_available()), reason="dockerd or caddy is not installed"
)
PAGE = "homei test image\n"


def web(name: str, domain: str, port: int, **fields: Any) -> dict[str, Any]:
    return httpd(name, ports=[f"127.0.0.1:{port}:8080"], domain=domain, **fields)


async def answers(caddy: CaddyServer, host: str) -> bool:
    return await asyncio.to_thread(caddy.fetch, host) == (200, PAGE)


async def route_ids(caddy: CaddyServer) -> dict[str, Any]:
    routes = await asyncio.to_thread(caddy.routes)
    return {r.get("@id", ""): r for r in routes}


async def tls_names(caddy: CaddyServer) -> list[str] | None:
    """The names Homei's TLS policy gives to Caddy's internal issuer; None without one."""
    apps = await asyncio.to_thread(caddy.admin, "GET", "/config/apps")
    for policy in apps.get("tls", {}).get("automation", {}).get("policies") or []:
        if policy.get("@id") == "homei-tls-internal":
            assert policy["issuers"] == [{"module": "internal"}]
            return policy["subjects"]  # type: ignore[no-any-return]
    return None


async def _equal(value: Any, expected: Any) -> bool:
    return await value == expected


async def test_a_domain_answers_through_caddy_follows_updates_and_goes_with_delete(homei, caddy):
    headers = await homei.auth()
    port = free_port()
    await install(homei, headers, web("web", "web.local", port))
    await until(lambda: answers(caddy, "web.local"), "web.local to answer through Caddy")
    route = (await route_ids(caddy))["homei-svc-web"]
    assert route["handle"][0]["upstreams"] == [{"dial": f"127.0.0.1:{port}"}]
    # A LAN name's certificate comes from Caddy's own CA.
    assert await tls_names(caddy) == ["web.local"]

    # A new domain replaces the route in place: the old name no longer reaches the service.
    accepted = await call(
        homei, "PUT", "/api/v1/services/web", headers, 202, json={"domain": "site.local"}
    )
    assert (await wait_task(homei, headers, accepted["taskId"]))["status"] == "completed"
    await until(lambda: answers(caddy, "site.local"), "site.local to answer")
    # Each change of Caddy's config is a reload of its own: the old name goes a moment later.
    await until(lambda: _equal(answers(caddy, "web.local"), False), "web.local to stop answering")
    assert list(await route_ids(caddy)) == ["homei-svc-web"]
    await until(lambda: _equal(tls_names(caddy), ["site.local"]), "the TLS policy to follow")

    await call(homei, "DELETE", "/api/v1/services/web", headers)

    async def gone() -> bool:
        return "homei-svc-web" not in await route_ids(caddy)

    await until(gone, "the route to be removed")
    await until(lambda: _equal(answers(caddy, "site.local"), False), "site.local to go")
    await until(lambda: _equal(tls_names(caddy), None), "the TLS policy to go")


async def test_a_caddy_restarted_empty_gets_its_routes_back(homei, caddy):
    headers = await homei.auth()
    await install(homei, headers, web("web", "web.local", free_port()))
    await until(lambda: answers(caddy, "web.local"), "web.local to answer")
    await asyncio.to_thread(caddy.kill)
    await asyncio.to_thread(caddy.up)
    assert "homei-svc-web" not in await route_ids(caddy)  # Caddy came back from its own config
    await until(lambda: answers(caddy, "web.local"), "Homei to put the route back")


async def test_a_bad_or_taken_domain_is_refused_and_nothing_changes(homei, caddy):
    headers = await homei.auth()
    await install(homei, headers, web("web", "web.local", free_port()))
    await until(lambda: answers(caddy, "web.local"), "web.local to answer")
    # A route Homei did not make: its host is taken too.
    foreign = {"match": [{"host": ["own.local"]}], "handle": [{"handler": "static_response"}]}
    await asyncio.to_thread(
        caddy.admin, "POST", "/config/apps/http/servers/homei/routes/...", [foreign]
    )
    before = await asyncio.to_thread(caddy.routes)
    for domain, status, code in (
        ("Not_A.Domain", 400, "INVALID_DOMAIN"),
        ("-web.local", 400, "INVALID_DOMAIN"),
        ("web.local", 409, "DOMAIN_TAKEN"),
        ("own.local", 409, "DOMAIN_TAKEN"),
    ):
        body = await call(
            homei,
            "POST",
            "/api/v1/services",
            headers,
            status,
            json=web("other", domain, free_port()),
        )
        assert body["error"]["code"] == code, body
    # A domain needs somewhere to send it.
    body = await call(
        homei, "POST", "/api/v1/services", headers, 400, json=httpd("other", domain="x.local")
    )
    assert body["error"]["code"] == "INVALID_DOMAIN"
    await call(homei, "GET", "/api/v1/services/other", headers, 404)
    assert await asyncio.to_thread(caddy.routes) == before


async def test_caddy_down_refuses_route_changes_and_the_routes_return_with_it(homei, caddy):
    headers = await homei.auth()
    await install(homei, headers, web("web", "web.local", free_port()))
    await until(lambda: answers(caddy, "web.local"), "web.local to answer")
    await asyncio.to_thread(caddy.kill)

    body = await call(
        homei, "POST", "/api/v1/services", headers, 503, json=web("late", "late.local", free_port())
    )
    assert body["error"]["code"] == "PROXY_ERROR"
    await call(homei, "GET", "/api/v1/services/late", headers, 404)
    # A service without a domain does not need Caddy.
    await install(homei, headers, httpd("plain"))

    async def caddy_report() -> dict[str, Any]:
        deps = await call(homei, "GET", "/api/v1/health/dependencies", headers)
        return deps["caddy"]  # type: ignore[no-any-return]

    report = await caddy_report()
    assert report["status"] == "unhealthy" and report["critical"] is False, report

    await asyncio.to_thread(caddy.up)
    await until(lambda: answers(caddy, "web.local"), "the route to be added when Caddy is back")
    assert (await caddy_report())["status"] in ("healthy", "degraded")
    await until(
        lambda: _status(caddy_report(), "healthy"), "Caddy reported healthy once routes are in"
    )


async def _status(report: Any, expected: str) -> bool:
    return (await report)["status"] == expected


async def test_two_installs_asking_for_one_domain_at_once_cannot_both_have_it(homei, caddy):
    headers = await homei.auth()
    bodies = [web(name, "one.local", free_port()) for name in ("first", "second")]
    responses = await asyncio.gather(
        *(homei.client.post("/api/v1/services", json=body, headers=headers) for body in bodies)
    )
    assert sorted(r.status for r in responses) == [202, 409]
    refused = next(r for r in responses if r.status == 409)
    assert (await refused.json())["error"]["code"] == "DOMAIN_TAKEN"
    accepted = await next(r for r in responses if r.status == 202).json()
    assert (await wait_task(homei, headers, accepted["taskId"]))["status"] == "completed"
    await until(lambda: answers(caddy, "one.local"), "one.local to answer")


async def test_a_caddy_nobody_needs_does_not_make_the_device_unwell(homei, caddy):
    # No service has a domain: Caddy down (or not in the image) is no fault of the device;
    # once a service with a domain is declared, it is.
    headers = await homei.auth()
    await asyncio.to_thread(caddy.kill)
    deps = await call(homei, "GET", "/api/v1/health/dependencies", headers)
    assert deps["caddy"]["status"] == "healthy", deps["caddy"]
    assert deps["caddy"]["details"] == {"routes": 0, "answering": False}
    assert deps["caddy"]["message"].startswith("Not needed")
    await asyncio.to_thread(caddy.up)
    await install(homei, headers, web("needy", "needy.local", free_port()))
    await asyncio.to_thread(caddy.kill)
    deps = await call(homei, "GET", "/api/v1/health/dependencies", headers)
    assert deps["caddy"]["status"] == "unhealthy", deps["caddy"]
    await asyncio.to_thread(caddy.up)
