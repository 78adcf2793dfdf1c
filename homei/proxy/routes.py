"""A service's route as Homei wants it, and as Caddy's JSON config holds it."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec

from homei.services.spec import ServiceSpec

ROUTE_PREFIX = "homei-svc-"

# Lower-case DNS names: labels of 1-63 letters, digits and inner hyphens, 253 bytes at most.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_NUMERIC = re.compile(r"^[0-9.]+$")
# Names no public CA can certify: Caddy's `internal` issuer signs them instead.
LAN_SUFFIXES = (".local", ".lan", ".home.arpa", ".internal", ".localdomain")


class Route(msgspec.Struct, frozen=True):
    """One service served by its domain from an upstream on the device."""

    service: str
    domain: str
    upstream: str  # host:port Caddy dials

    @property
    def route_id(self) -> str:
        """The `@id` Caddy knows the route by."""
        return route_id(self.service)

    def as_caddy(self) -> dict[str, Any]:
        """The route in Caddy's JSON: a host matcher and a reverse proxy to the upstream."""
        return {
            "@id": self.route_id,
            "match": [{"host": [self.domain]}],
            "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": self.upstream}]}],
            "terminal": True,
        }


def route_hash(route: Route) -> str:
    """A short hash of the route's JSON in Caddy."""
    text = msgspec.json.encode(route.as_caddy(), order="sorted")
    return hashlib.sha256(text).hexdigest()[:16]


def route_id(service: str) -> str:
    """The `@id` of a service's route."""
    return f"{ROUTE_PREFIX}{service}"


def domain_problem(domain: str) -> str | None:
    """Why `domain` cannot name a service, or None when it can."""
    if not _DOMAIN.match(domain):
        return (
            f"'{domain}' is not a domain name: lower-case labels of letters, digits and"
            " inner hyphens, separated by dots"
        )
    if _NUMERIC.match(domain):
        return f"'{domain}' is an address, not a domain name"
    return None


def is_lan_name(domain: str) -> bool:
    """A `.local`-style or single-label name, served with a certificate of Caddy's own CA."""
    return "." not in domain or domain.endswith(LAN_SUFFIXES)


def upstream_of(spec: ServiceSpec) -> str | None:
    """Where the service answers on the device: a native service's `port` on loopback, a
    Docker service's first published TCP host port."""
    if spec.port is not None:
        return f"127.0.0.1:{spec.port}"
    for port in spec.ports:
        if port.host is not None and port.protocol == "tcp":
            host = port.ip if port.ip not in ("", "0.0.0.0") else "127.0.0.1"  # noqa: S104
            return f"{host}:{port.host}"
    return None


def wanted_route(spec: ServiceSpec) -> Route | None:
    """The route the spec asks for: a domain and somewhere to send it."""
    upstream = upstream_of(spec)
    if not spec.domain or upstream is None:
        return None
    return Route(spec.name, spec.domain, upstream)


def parse_route(raw: Any) -> Route | None:
    """One of Homei's routes read back from Caddy; None for a route that is not Homei's."""
    if not isinstance(raw, dict):
        return None
    ident = raw.get("@id")
    if not isinstance(ident, str) or not ident.startswith(ROUTE_PREFIX):
        return None
    try:
        host = raw["match"][0]["host"][0]
        dial = raw["handle"][0]["upstreams"][0]["dial"]
    except (KeyError, IndexError, TypeError):
        host, dial = "", ""  # a route of ours someone edited: it gets replaced
    return Route(ident.removeprefix(ROUTE_PREFIX), str(host), str(dial))


def hosts_of(raw: Any) -> list[str]:
    """The host names a route of Caddy's matches, whoever made it."""
    hosts: list[str] = []
    if isinstance(raw, dict):
        for matcher in raw.get("match") or []:
            if isinstance(matcher, dict):
                hosts.extend(str(h) for h in matcher.get("host") or [])
    return hosts
