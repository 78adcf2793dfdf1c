"""A test double of a hawkBit DDI server, on loopback: the controller base, deploymentBase,
cancelAction, confirmationBase, configData and artefact downloads (with Range), plus knobs to
cut a download, lie about a hash, or be down. The end-to-end tests use gooseBit itself; this
double lets the client's own tests reach the corners a real server rarely shows."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

from aiohttp import web

TOKEN = "device-token"


class DdiDouble:
    """One tenant, one device, at most one action at a time."""

    def __init__(self, tenant: str = "DEFAULT") -> None:
        self.tenant = tenant
        self.sleep = "00:00:01"
        self.down = False
        self.nonsense: dict[str, Any] | None = None  # set: every poll answers this instead
        # Set: deploymentBase answers `null`, as gooseBit does for an update it considers done.
        self.deployment_null = False
        self.polls = 0
        self.config_data: list[dict[str, Any]] = []
        self.feedback: list[tuple[str, str, dict[str, Any]]] = []  # (kind, action id, body)
        self.downloads: list[str | None] = []  # the Range header of each download
        self.cut_after: int | None = None  # the next download stops after this many bytes
        self.action: dict[str, Any] | None = None
        self.cancel: str | None = None  # the id of a cancel action for the current one
        self.confirm = False  # the current action waits for consent
        self.ask_config = True
        self.auth: list[str] = []
        self.hold: asyncio.Event | None = None  # set: downloads send half, then wait for it
        self.url = ""
        self._runner: web.AppRunner | None = None

    def assign(
        self,
        action_id: str,
        bundle: Path,
        *,
        version: str = "4.0.0",
        sha256: str | None = None,
        update: str = "forced",
        maintenance: str | None = None,
    ) -> None:
        """Offer `bundle` to the device as deployment `action_id`."""
        data = bundle.read_bytes()
        self.action = {
            "id": action_id,
            "path": bundle,
            "version": version,
            "size": len(data),
            "sha256": sha256 or hashlib.sha256(data).hexdigest(),
            "sha1": hashlib.sha1(data).hexdigest(),  # noqa: S324 (as the DDI sends it)
            "update": update,
            "maintenance": maintenance,
        }

    def feedback_for(self, action_id: str, kind: str = "deploymentBase") -> list[dict[str, Any]]:
        """The feedback bodies the device sent for one action, in order."""
        return [body for k, a, body in self.feedback if k == kind and a == action_id]

    def closed(self, action_id: str) -> dict[str, Any] | None:
        """The final feedback (`closed` or `canceled`) of an action, if any."""
        for body in self.feedback_for(action_id):
            if body["status"]["execution"] in ("closed", "canceled"):
                return body
        return None

    async def start(self) -> DdiDouble:
        app = web.Application()
        base = f"/{self.tenant}/controller/v1/{{device}}"
        app.router.add_get(base, self._poll)
        app.router.add_put(f"{base}/configData", self._config)
        app.router.add_get(f"{base}/deploymentBase/{{action}}", self._deployment)
        app.router.add_post(f"{base}/deploymentBase/{{action}}/feedback", self._feedback)
        app.router.add_get(f"{base}/cancelAction/{{action}}", self._cancel)
        app.router.add_post(f"{base}/cancelAction/{{action}}/feedback", self._feedback)
        app.router.add_get(f"{base}/confirmationBase/{{action}}", self._confirmation)
        app.router.add_post(f"{base}/confirmationBase/{{action}}/feedback", self._feedback)
        app.router.add_get(f"{base}/artifacts/{{name}}", self._artefact)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _check(self, request: web.Request) -> None:
        self.auth.append(request.headers.get("Authorization", ""))
        if self.down:
            raise web.HTTPServiceUnavailable(text="down for maintenance")
        if request.headers.get("Authorization") != f"TargetToken {TOKEN}":
            raise web.HTTPUnauthorized()

    async def _poll(self, request: web.Request) -> web.Response:
        self._check(request)
        self.polls += 1
        if self.nonsense is not None:
            return web.json_response(self.nonsense)
        links: dict[str, Any] = {}
        prefix = str(request.url.with_query(None))
        if self.ask_config:
            links["configData"] = {"href": f"{prefix}/configData"}
        action = self.action
        if action is not None and self.cancel is not None:
            links["cancelAction"] = {"href": f"{prefix}/cancelAction/{self.cancel}"}
        elif action is not None and self.confirm:
            links["confirmationBase"] = {"href": f"{prefix}/confirmationBase/{action['id']}"}
        elif action is not None:
            links["deploymentBase"] = {"href": f"{prefix}/deploymentBase/{action['id']}?c=7"}
        return web.json_response({"config": {"polling": {"sleep": self.sleep}}, "_links": links})

    async def _config(self, request: web.Request) -> web.Response:
        self._check(request)
        self.config_data.append(await request.json())
        self.ask_config = False
        return web.json_response({})

    def _deployment_body(self, request: web.Request) -> dict[str, Any]:
        action = self.action
        if action is None or action["id"] != request.match_info["action"]:
            raise web.HTTPNotFound()
        base = str(request.url.with_query(None)).split("/deploymentBase/")[0]
        base = base.split("/confirmationBase/")[0]
        name = action["path"].name
        deployment: dict[str, Any] = {
            "download": "forced",
            "update": action["update"],
            "chunks": [
                {
                    "part": "os",
                    "version": action["version"],
                    "name": "os",
                    "artifacts": [
                        {
                            "filename": name,
                            "size": action["size"],
                            "hashes": {"sha1": action["sha1"], "sha256": action["sha256"]},
                            "_links": {"download-http": {"href": f"{base}/artifacts/{name}"}},
                        }
                    ],
                }
            ],
        }
        if action["maintenance"]:
            deployment["maintenanceWindow"] = action["maintenance"]
        return deployment

    async def _deployment(self, request: web.Request) -> web.Response:
        self._check(request)
        if self.deployment_null:
            return web.json_response(None)
        body = {"id": request.match_info["action"], "deployment": self._deployment_body(request)}
        return web.json_response(body)

    async def _confirmation(self, request: web.Request) -> web.Response:
        self._check(request)
        body = {"id": request.match_info["action"], "confirmation": self._deployment_body(request)}
        return web.json_response(body)

    async def _cancel(self, request: web.Request) -> web.Response:
        self._check(request)
        assert self.action is not None
        cancel_id = request.match_info["action"]
        return web.json_response({"id": cancel_id, "cancelAction": {"stopId": self.action["id"]}})

    async def _feedback(self, request: web.Request) -> web.Response:
        self._check(request)
        kind = request.path.rsplit("/", 3)[-3]
        action_id = request.match_info["action"]
        body = await request.json()
        self.feedback.append((kind, action_id, body))
        if kind == "confirmationBase" and body.get("confirmation") == "confirmed":
            self.confirm = False
        if kind == "confirmationBase" and body.get("confirmation") == "denied":
            self.action, self.confirm = None, False
        if kind == "cancelAction" and body["status"]["execution"] == "closed":
            self.action, self.cancel = None, None
        if kind == "deploymentBase" and body["status"]["execution"] == "closed":
            self.action = None
        return web.json_response({})

    async def _artefact(self, request: web.Request) -> web.StreamResponse:
        self._check(request)
        action = self.action
        if action is None:
            raise web.HTTPNotFound()
        data = await asyncio.to_thread(action["path"].read_bytes)
        header = request.headers.get("Range")
        self.downloads.append(header)
        start = int(header.removeprefix("bytes=").rstrip("-")) if header else 0
        response = web.StreamResponse(status=206 if header else 200)
        response.content_length = len(data) - start
        if header:
            response.headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        await response.prepare(request)
        cut, self.cut_after = self.cut_after, None
        end = len(data) if cut is None else start + cut
        if self.hold is not None:
            middle = start + (end - start) // 2
            await response.write(data[start:middle])
            await self.hold.wait()
            start = middle
        await response.write(data[start:end])
        if cut is not None:
            # A lost connection: the line stalls, then the transport closes mid-body.
            await asyncio.sleep(0.3)
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write_eof()
        return response
