"""`/` and `/assets/*`: the dashboard, served from files built into the package.

The page loads nothing but these files: no CDN, no web font, no inline script. Hashed asset
names change with their content, so they are cached for a year; the page itself is always
asked for again, so a device that installed an update serves its new dashboard at once.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp import web

from homei.api.routing import endpoint
from homei.core.errors import NotFound

WEB_DIR = Path(__file__).parent.parent / "web"
ASSET_PREFIX = "/assets"
_ASSET_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9]+)+")

# Every value from the API is rendered as text; this policy is the second line: no script
# but the bundle's own, no connection but to this device, no framing by another page.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_SECURITY = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_PAGE = {**_SECURITY, "Cache-Control": "no-cache"}
_HASHED = {**_SECURITY, "Cache-Control": "public, max-age=31536000, immutable"}


class WebApi:
    """The dashboard's page and its hashed assets."""

    def __init__(self, root: Path = WEB_DIR) -> None:
        self._root = root
        self._assets: frozenset[str] | None = None  # listed once, on first use

    @endpoint("GET", "/", summary="The dashboard", tag="web", permission=None, in_schema=False)
    async def page(self, request: web.Request) -> web.FileResponse:
        """The dashboard's one page; 404 when this build carries no dashboard."""
        page = self._root / "index.html"
        if not await asyncio.to_thread(page.is_file):
            raise NotFound(
                "This build of Homei has no dashboard: build it with `npm run build` in web/",
                {"path": "/"},
            )
        return web.FileResponse(page, headers=_PAGE)

    @endpoint(
        "GET",
        ASSET_PREFIX + "/{name}",
        summary="Dashboard assets",
        tag="web",
        permission=None,
        in_schema=False,
    )
    async def asset(self, request: web.Request) -> web.FileResponse:
        """A script, style sheet or image of the dashboard, by its hashed name."""
        name = request.match_info["name"]
        if self._assets is None:
            self._assets = await asyncio.to_thread(self._list)
        if not _ASSET_NAME.fullmatch(name) or name not in self._assets:
            raise NotFound(f"No dashboard asset '{name}'", {"name": name})
        return web.FileResponse(self._root / "assets" / name, headers=_HASHED)

    def _list(self) -> frozenset[str]:
        folder = self._root / "assets"
        if not folder.is_dir():
            return frozenset()
        return frozenset(p.name for p in folder.iterdir() if p.is_file())
