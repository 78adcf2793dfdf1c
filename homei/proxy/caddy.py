"""Caddy's admin API: the routes of one HTTP server, read and changed one at a time."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from homei.core.errors import ProxyError
from homei.proxy.routes import Route

TLS_POLICY_ID = "homei-tls-internal"
_TLS = "/config/apps/tls"


class CaddyAdmin:
    """A client of Caddy's admin API for the routes of the server `server`."""

    def __init__(self, admin_url: str, server: str, *, timeout: float = 5.0) -> None:
        self._base = admin_url.rstrip("/")
        self._routes_path = f"/config/apps/http/servers/{server}/routes"
        self._server = server
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(
        self, method: str, path: str, body: Any = None, *, missing_ok: bool = False
    ) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            async with self._session.request(
                method, self._base + path, data=data, headers=headers
            ) as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as err:
            raise ProxyError(
                f"Caddy's admin API does not answer: {str(err) or type(err).__name__}",
                {"admin_url": self._base},
            ) from None
        if missing_ok and response.status == 404:
            return None
        if response.status >= 400:
            raise ProxyError(
                f"Caddy refused {method} {path}: {_caddy_message(text)}",
                {"status": response.status},
            )
        return json.loads(text) if text.strip() else None

    async def routes(self) -> list[Any]:
        """Every route of the server, Homei's and others', as Caddy holds them."""
        found = await self._call("GET", self._routes_path)
        if found is None:
            # No routes yet, or no such server: Caddy answers null for both.
            server = await self._call("GET", f"/config/apps/http/servers/{self._server}")
            if server is None:
                raise ProxyError(
                    f"Caddy has no HTTP server '{self._server}' (set [proxy] server_name)",
                    {"server": self._server},
                )
            return []
        return list(found)

    async def add(self, route: Route) -> None:
        """Append a route to the server."""
        # `/...` spreads the array into the list, and makes the list when there is none yet.
        await self._call("POST", f"{self._routes_path}/...", [route.as_caddy()])

    async def replace(self, route: Route) -> None:
        """Replace the route with the same `@id` in place."""
        await self._call("PATCH", f"/id/{route.route_id}", route.as_caddy())

    async def remove(self, ident: str) -> None:
        """Remove the route with `@id` `ident`."""
        await self._call("DELETE", f"/id/{ident}")

    async def internal_names(self) -> list[str] | None:
        """The names Homei's TLS policy (Caddy's `internal` issuer) covers; None without one."""
        policy = await self._call("GET", f"/id/{TLS_POLICY_ID}", missing_ok=True)
        return None if policy is None else list(policy.get("subjects") or [])

    async def set_internal_names(self, names: list[str]) -> None:
        """Make Homei's TLS policy cover exactly `names`, first among the policies (Caddy
        takes the first that matches); removed when `names` is empty."""
        present = await self.internal_names()
        if not names:
            if present is not None:
                await self._call("DELETE", f"/id/{TLS_POLICY_ID}")
            return
        policy = {"@id": TLS_POLICY_ID, "subjects": names, "issuers": [{"module": "internal"}]}
        if present is not None:
            await self._call("PATCH", f"/id/{TLS_POLICY_ID}", policy)
        elif await self._call("GET", _TLS) is None:
            await self._call("POST", _TLS, {"automation": {"policies": [policy]}})
        elif await self._call("GET", f"{_TLS}/automation") is None:
            await self._call("POST", f"{_TLS}/automation", {"policies": [policy]})
        elif await self._call("GET", f"{_TLS}/automation/policies"):
            await self._call("PUT", f"{_TLS}/automation/policies/0", policy)  # inserts
        else:
            await self._call("POST", f"{_TLS}/automation/policies/...", [policy])


def _caddy_message(text: str) -> str:
    try:
        return str(json.loads(text).get("error", text)).strip()
    except (ValueError, AttributeError):
        return text.strip()[:200]
