"""A webhook receiver for the tests: a real aiohttp app that keeps what it is sent."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class Receiver:
    """Collects each POST's body (decoded and raw, with its headers)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.raw: list[tuple[bytes, dict[str, str]]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        return app

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.raw.append((body, dict(request.headers)))
        self.messages.append(json.loads(body))
        return web.json_response({"ok": True})

    def with_change(self, change: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["change"] == change]
