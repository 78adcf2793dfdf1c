"""`/openapi.json`, `/docs` (Swagger UI) and `/redoc`, served from files in the package:
a device is often offline, so the pages load nothing from beyond it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from homei.api.routing import encode, endpoint
from homei.core.errors import NotFound

STATIC_DIR = Path(__file__).parent / "docs_static"
STATIC_PREFIX = "/docs/static"

_SWAGGER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Homei API</title>
<link rel="stylesheet" href="{static}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: "/openapi.json", dom_id: "#swagger-ui",
  validatorUrl: null, deepLinking: true, persistAuthorization: true}});
</script></body></html>
"""

_REDOC = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Homei API</title>
<style>body {{ margin: 0; padding: 0; }}</style></head>
<body><div id="redoc"></div>
<script src="{static}/redoc.standalone.js"></script>
<script>
Redoc.init("/openapi.json", {{hideDownloadButton: false}}, document.getElementById("redoc"));
</script>
</body></html>
"""

_CACHE = {"Cache-Control": "public, max-age=86400"}
# The pages may load nothing from beyond the device: ReDoc's bundle, for one, links a logo
# on a CDN in its footer, and this policy keeps the browser from fetching it.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'; "
        "font-src 'self' data:"
    ),
}
ASSETS = frozenset(
    {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "redoc.standalone.js",
        "swagger-ui.LICENSE",
        "swagger-ui.NOTICE",
        "swagger-ui-bundle.js.LICENSE.txt",
        "redoc.LICENSE",
        "redoc.standalone.js.LICENSE.txt",
    }
)


class DocsApi:
    """The API's own description, and two ways to read it."""

    def __init__(self, document: Callable[[], dict[str, Any]]) -> None:
        # Built on the first request, not at start-up: generating the schemas is a good
        # part of start-up time, and most starts of a device never serve the document.
        self._build = document
        self._document: bytes | None = None
        self._building = asyncio.Lock()

    @endpoint(
        "GET",
        "/openapi.json",
        summary="The OpenAPI document",
        tag="docs",
        permission=None,
        in_schema=False,
    )
    async def openapi(self, request: web.Request) -> web.Response:
        """Generated from the handlers' declarations."""
        async with self._building:
            if self._document is None:
                self._document = await asyncio.to_thread(lambda: encode(self._build()))
        return web.Response(body=self._document, content_type="application/json")

    @endpoint("GET", "/docs", summary="Swagger UI", tag="docs", permission=None, in_schema=False)
    async def swagger(self, request: web.Request) -> web.Response:
        """Interactive documentation."""
        return web.Response(
            text=_SWAGGER.format(static=STATIC_PREFIX),
            content_type="text/html",
            headers=_PAGE_HEADERS,
        )

    @endpoint("GET", "/redoc", summary="ReDoc", tag="docs", permission=None, in_schema=False)
    async def redoc(self, request: web.Request) -> web.Response:
        """Reference documentation."""
        return web.Response(
            text=_REDOC.format(static=STATIC_PREFIX),
            content_type="text/html",
            headers=_PAGE_HEADERS,
        )

    @endpoint(
        "GET",
        STATIC_PREFIX + "/{name}",
        summary="Documentation assets",
        tag="docs",
        permission=None,
        in_schema=False,
    )
    async def asset(self, request: web.Request) -> web.FileResponse:
        """The Swagger UI and ReDoc bundles and their licences; nothing else is served."""
        name = request.match_info["name"]
        if name not in ASSETS:
            raise NotFound(f"No documentation asset '{name}'", {"name": name})
        return web.FileResponse(STATIC_DIR / name, headers=_CACHE)
