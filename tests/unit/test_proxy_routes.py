"""The proxy's routes as Caddy's JSON holds them, and which domains a service may take."""

from __future__ import annotations

import pytest

from homei.proxy.routes import (
    Route,
    domain_problem,
    hosts_of,
    is_lan_name,
    parse_route,
    wanted_route,
)
from homei.services.spec import parse_spec


@pytest.mark.parametrize("domain", ["app.local", "a", "x-1.example.com", "my-app.home.arpa"])
def test_domain_names_are_accepted(domain: str):
    assert domain_problem(domain) is None


@pytest.mark.parametrize(
    "domain",
    ["", "App.local", "-a.local", "a-.local", "a..local", "a.local.", "a_b.local",
     "10.0.0.1", "a" * 64 + ".local", "*.local", "a b.local"],
)  # fmt: skip
def test_malformed_domains_are_refused(domain: str):
    assert domain_problem(domain) is not None


def test_lan_names_are_the_ones_no_public_ca_signs():
    assert is_lan_name("nas.local") and is_lan_name("router") and is_lan_name("x.home.arpa")
    assert not is_lan_name("example.com")


def test_a_route_reads_back_as_it_was_written():
    route = Route("web", "web.local", "127.0.0.1:8081")
    raw = route.as_caddy()
    assert raw["@id"] == "homei-svc-web"
    assert parse_route(raw) == route
    assert hosts_of(raw) == ["web.local"]
    # Routes that are not Homei's are left alone; one of Homei's edited by hand is replaced.
    assert parse_route({"match": [{"host": ["x"]}]}) is None
    assert parse_route({"@id": "homei-svc-web", "handle": []}) == Route("web", "", "")


def test_the_upstream_is_the_first_published_tcp_port_on_loopback():
    spec = parse_spec(
        {"name": "web", "image": "i", "domain": "web.local",
         "ports": ["5353:53/udp", "0.0.0.0:8081:80", "8082:80"]}
    )  # fmt: skip
    assert wanted_route(spec) == Route("web", "web.local", "127.0.0.1:8081")
    assert wanted_route(parse_spec({"name": "web", "image": "i", "domain": "web.local"})) is None
    assert wanted_route(parse_spec({"name": "web", "image": "i", "ports": ["8081:80"]})) is None


def test_a_native_service_is_reached_on_its_port_on_loopback():
    spec = parse_spec(
        {"name": "pb", "runtime": "systemd", "exec": "/usr/bin/pb", "port": 8090,
         "domain": "pb.local"}
    )  # fmt: skip
    assert wanted_route(spec) == Route("pb", "pb.local", "127.0.0.1:8090")
