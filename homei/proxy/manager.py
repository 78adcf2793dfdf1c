"""Homei's routes in Caddy: checked before a service changes, kept equal to the services.

Homei is the source of truth. The wanted routes come from the declared services (a
`domain` and a published port); a loop compares them with the routes Caddy reports and
adds, replaces or removes Homei's routes one at a time, never rewriting Caddy's config.
A Caddy restarted empty gets its routes back at the next comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Container

from homei.core.errors import Conflict, HomeiError, ProxyError, ValidationError
from homei.core.events import EventBus
from homei.core.health import DependencyReport, HealthState
from homei.proxy.caddy import CaddyAdmin
from homei.proxy.routes import (
    Route,
    domain_problem,
    hosts_of,
    is_lan_name,
    parse_route,
    route_hash,
    wanted_route,
)
from homei.services.spec import ServiceSpec
from homei.services.store import Declared, ServiceStore

_LOGGER = logging.getLogger(__name__)

# After these, the wanted routes may have changed.
CHANGES = ("service:installed", "service:updated", "service:uninstalled")


class InvalidDomain(ValidationError):
    code = "INVALID_DOMAIN"


class DomainTaken(Conflict):
    code = "DOMAIN_TAKEN"


class ReverseProxy:
    """The services' routes in Caddy; `caddy` None when the proxy is turned off."""

    def __init__(
        self,
        caddy: CaddyAdmin | None,
        store: ServiceStore,
        busy: Container[str],
        events: EventBus,
        interval: float,
    ) -> None:
        self._caddy = caddy
        self._store = store
        # Domains asked for by installs and updates not declared yet: held while the service
        # is being admitted or is busy (its task running), so two at once cannot both pass.
        self._busy = busy
        self._claims: dict[str, str] = {}
        self._admitting: set[str] = set()
        self._events = events
        self._interval = interval
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.last_error: str | None = None
        self.synced_routes = 0
        self._hashes: dict[str, str] = {}  # per service, the route Caddy was last given

    def route_hash(self, service: str) -> str | None:
        """The hash of the service's route as Caddy holds it since the last comparison
        (003's `caddy_config_hash`); None when it has none there."""
        return self._hashes.get(service)

    @property
    def enabled(self) -> bool:
        """Whether Homei manages routes in Caddy at all."""
        return self._caddy is not None

    # --- the wanted routes -----------------------------------------------------------
    def wanted(self) -> dict[str, Route]:
        """Every declared service's route, by `@id`."""
        routes = (wanted_route(row.spec) for row in self._store.all().values())
        return {route.route_id: route for route in routes if route is not None}

    def domain_owner(self, domain: str, *, besides: str) -> str | None:
        """The other service that has `domain` (declared, or being installed), if one does."""
        for name, row in self._store.all().items():
            if name != besides and row.spec.domain == domain:
                return name
        for name, claimed in self._claims.items():
            held = name in self._admitting or name in self._busy
            if name != besides and claimed == domain and held:
                return name
        return None

    async def foreign_hosts(self) -> set[str]:
        """The host names Caddy serves by routes that are not Homei's."""
        assert self._caddy is not None
        raw = await self._caddy.routes()
        return {host for route in raw if parse_route(route) is None for host in hosts_of(route)}

    async def admit(self, spec: ServiceSpec, old: Declared | None) -> None:
        """Refuse a spec whose domain is malformed or taken, before anything changes; 503
        when its route must change and Caddy does not answer."""
        self._claims.pop(spec.name, None)
        if not spec.domain:
            return
        problem = domain_problem(spec.domain)
        if problem is not None:
            raise InvalidDomain(problem, {"fields": [{"path": "domain", "message": problem}]})
        route = wanted_route(spec)
        if route is None:
            message = "a domain needs a `port` (or a published TCP host port) to send it to"
            raise InvalidDomain(message, {"fields": [{"path": "domain", "message": message}]})
        owner = self.domain_owner(spec.domain, besides=spec.name)
        if owner is not None:
            raise _taken(spec.domain, f"service '{owner}'")
        # Claimed before the first await: a second request for it now finds it taken.
        self._claims[spec.name] = spec.domain
        self._admitting.add(spec.name)
        try:
            if self._caddy is None or (old is not None and wanted_route(old.spec) == route):
                return  # nothing to change in Caddy
            if spec.domain in await self.foreign_hosts():
                raise _taken(spec.domain, "a route of Caddy's own")
        except BaseException:
            self._claims.pop(spec.name, None)
            raise
        finally:
            self._admitting.discard(spec.name)

    # --- keeping Caddy equal -----------------------------------------------------------
    def request(self) -> None:
        """Compare with Caddy soon."""
        self._wake.set()

    async def reconcile(self) -> None:
        """Add, replace and remove Homei's routes until Caddy holds exactly the wanted ones."""
        if self._caddy is None:
            return
        async with self._lock:
            wanted = self.wanted()
            present = {
                route.route_id: route
                for route in map(parse_route, await self._caddy.routes())
                if route is not None
            }
            for ident, route in wanted.items():
                if ident not in present:
                    _LOGGER.info("Adding the route of %s (%s)", route.service, route.domain)
                    await self._caddy.add(route)
                elif present[ident] != route:
                    _LOGGER.info("Replacing the route of %s (%s)", route.service, route.domain)
                    await self._caddy.replace(route)
            for ident in present.keys() - wanted.keys():
                _LOGGER.info("Removing the route %s", ident)
                await self._caddy.remove(ident)
            lan = sorted({r.domain for r in wanted.values() if is_lan_name(r.domain)})
            if await self._caddy.internal_names() != (lan or None):
                await self._caddy.set_internal_names(lan)
            self.synced_routes = len(wanted)
            self._hashes = {route.service: route_hash(route) for route in wanted.values()}

    async def _loop(self) -> None:
        while True:
            try:
                await self.reconcile()
            except HomeiError as err:
                if self.last_error is None:
                    _LOGGER.warning("Caddy's routes not kept: %s", err.message)
                self.last_error = err.message
            except Exception:
                _LOGGER.exception("Keeping Caddy's routes failed")
                self.last_error = "keeping Caddy's routes failed"
            else:
                if self.last_error is not None:
                    _LOGGER.info("Caddy's routes are in place again")
                self.last_error = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()

    async def _listen(self) -> None:
        while True:  # a subscription that fell behind is closed: take a new one
            subscription = self._events.subscribe(CHANGES)
            try:
                async for _ in subscription:
                    self.request()
            finally:
                self._events.unsubscribe(subscription)
            if not subscription.overflowed:
                return  # the bus closed: the daemon is stopping
            self.request()

    def start(self) -> None:
        """Begin keeping Caddy's routes."""
        if self._caddy is None or self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._loop(), name="homei-proxy"),
            asyncio.create_task(self._listen(), name="homei-proxy-events"),
        ]

    async def stop(self) -> None:
        """Stop keeping routes and close the client."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._caddy is not None:
            await self._caddy.close()

    async def report(self) -> DependencyReport:
        """Caddy as a dependency: answering, and holding Homei's routes."""
        if self._caddy is None:
            return DependencyReport("caddy", HealthState.HEALTHY, "Turned off")
        try:
            await self._caddy.routes()
        except ProxyError as err:
            if not self.wanted():
                # No service has a domain: a proxy nobody needs is no fault of the device
                # (an image without Caddy, or Caddy stopped), until a service asks for a route.
                return DependencyReport(
                    "caddy",
                    HealthState.HEALTHY,
                    f"Not needed: no service has a domain ({err.message})",
                    details={"routes": 0, "answering": False},
                )
            return DependencyReport("caddy", HealthState.UNHEALTHY, err.message)
        if self.last_error is not None:
            return DependencyReport("caddy", HealthState.DEGRADED, self.last_error)
        return DependencyReport(
            "caddy", HealthState.HEALTHY, "Answering", details={"routes": self.synced_routes}
        )


def _taken(domain: str, owner: str) -> DomainTaken:
    return DomainTaken(
        f"Domain '{domain}' is already served by {owner}",
        {"fields": [{"path": "domain", "message": "domain taken"}], "domain": domain},
    )
