"""hawkBit's Direct Device Integration API as this device speaks it: what the server sends
(decoded strictly, so an answer that makes no sense never reaches the device) and the
feedback sent back."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any, Literal

import aiohttp
import msgspec

from homei.settings_sections import FleetSettings

_LOGGER = logging.getLogger(__name__)

Execution = Literal[
    "closed", "proceeding", "canceled", "scheduled", "rejected", "resumed", "downloaded", "download"
]
Finished = Literal["success", "failure", "none"]
Handling = Literal["skip", "attempt", "forced"]


class DdiError(Exception):
    """The server could not be reached, refused, or answered something that is not DDI."""


class Link(msgspec.Struct, frozen=True):
    href: str


class Polling(msgspec.Struct, frozen=True):
    sleep: str = "00:05:00"


class PollConfig(msgspec.Struct, frozen=True):
    polling: Polling = Polling()


class PollAnswer(msgspec.Struct, frozen=True):
    """The controller base: how long to sleep and what to do next."""

    config: PollConfig = PollConfig()
    links: dict[str, Link] = msgspec.field(name="_links", default_factory=dict)


class Artifact(msgspec.Struct, frozen=True):
    filename: str
    size: int
    hashes: dict[str, str] = {}
    links: dict[str, Link] = msgspec.field(name="_links", default_factory=dict)

    @property
    def url(self) -> str | None:
        """Where to download it over HTTP(S)."""
        for name in ("download", "download-http"):
            if name in self.links:
                return self.links[name].href
        return None


class Chunk(msgspec.Struct, frozen=True):
    part: str = ""
    name: str = ""
    version: str = ""
    artifacts: list[Artifact] = []


class Deployment(msgspec.Struct, frozen=True):
    download: Handling = "forced"
    update: Handling = "forced"
    chunks: list[Chunk] = []
    maintenance_window: Literal["available", "unavailable"] | None = msgspec.field(
        name="maintenanceWindow", default=None
    )


class DeploymentBase(msgspec.Struct, frozen=True):
    id: str
    deployment: Deployment


class Confirmation(msgspec.Struct, frozen=True):
    id: str
    confirmation: Deployment


class CancelOrder(msgspec.Struct, frozen=True):
    stop_id: str = msgspec.field(name="stopId")


class CancelAction(msgspec.Struct, frozen=True):
    id: str
    cancel_action: CancelOrder = msgspec.field(name="cancelAction")


def parse_sleep(text: str) -> float:
    """hawkBit's `HH:MM:SS` as seconds; ValueError for anything else."""
    parts = text.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not HH:MM:SS: {text!r}")
    hours, minutes, seconds = (int(p) for p in parts)
    return float(hours * 3600 + minutes * 60 + seconds)


def action_id_of(href: str) -> str:
    """The action id at the end of a `deploymentBase/{id}?c=...` link."""
    return href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def status_body(
    execution: Execution,
    finished: Finished,
    details: list[str],
    progress: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """A feedback body for deploymentBase and cancelAction."""
    result: dict[str, Any] = {"finished": finished}
    if progress is not None:
        result["progress"] = {"cnt": progress[0], "of": progress[1]}
    return {"status": {"execution": execution, "result": result, "details": details}}


class DdiClient:
    """One HTTP session to the server, authenticated with the device's (or gateway's) token."""

    def __init__(self, settings: FleetSettings, controller_id: str) -> None:
        self.settings = settings
        self.controller_id = controller_id
        self.base = f"{settings.url.rstrip('/')}/{settings.tenant}/controller/v1/{controller_id}"
        self._session: aiohttp.ClientSession | None = None

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/hal+json, application/json"}
        if self.settings.token:
            gateway = self.settings.token_kind == "gateway"  # noqa: S105 (a kind, not a secret)
            kind = "GatewayToken" if gateway else "TargetToken"
            headers["Authorization"] = f"{kind} {self.settings.token}"
        return headers

    async def session(self) -> aiohttp.ClientSession:
        """The HTTP session, created on first use (with the configured CA, if any)."""
        if self._session is None or self._session.closed:
            context: ssl.SSLContext | bool = True
            if self.settings.ca_file:
                context = await _ssl_context(self.settings.ca_file)
            self._session = aiohttp.ClientSession(
                headers=self._headers(),
                connector=aiohttp.TCPConnector(ssl=context),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=self.settings.request_timeout,
                    sock_read=self.settings.request_timeout,
                ),
            )
        return self._session

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, href_or_path: str) -> str:
        """An absolute URL: the server's own links as they are, paths under the base."""
        if href_or_path.startswith(("http://", "https://")):
            return href_or_path
        return f"{self.base}/{href_or_path.lstrip('/')}"

    async def get(self, href: str, model: Any) -> Any:
        """GET a DDI resource and decode it into `model` (a type or a union); DdiError otherwise."""
        session = await self.session()
        try:
            async with session.get(self.url(href)) as response:
                body = await response.read()
                if response.status != 200:
                    raise DdiError(f"GET {href} answered HTTP {response.status}: {body[:200]!r}")
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DdiError(f"GET {href} failed: {err or type(err).__name__}") from None
        try:
            return msgspec.json.decode(body, type=model)
        except (msgspec.ValidationError, msgspec.DecodeError) as err:
            raise DdiError(f"GET {href} answered something that is not DDI: {err}") from None

    async def send(self, method: str, href: str, body: dict[str, Any]) -> None:
        """POST or PUT a JSON body; DdiError unless the server accepts it."""
        session = await self.session()
        try:
            async with session.request(method, self.url(href), json=body) as response:
                text = await response.read()
                if response.status >= 300:
                    raise DdiError(
                        f"{method} {href} answered HTTP {response.status}: {text[:200]!r}"
                    )
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DdiError(f"{method} {href} failed: {err or type(err).__name__}") from None

    async def poll(self) -> PollAnswer:
        """The controller base resource."""
        answer: PollAnswer = await self.get(self.base, PollAnswer)
        return answer

    async def feedback(self, action_id: str, body: dict[str, Any], kind: str) -> None:
        """Feedback on an action: `kind` is deploymentBase, cancelAction or confirmationBase."""
        await self.send("POST", f"{kind}/{action_id}/feedback", body)

    async def config_data(self, data: dict[str, str]) -> None:
        """Send the device's attributes (merged into what the server has)."""
        await self.send("PUT", "configData", {"mode": "merge", "data": data})


async def _ssl_context(ca_file: str) -> ssl.SSLContext:
    return await asyncio.to_thread(ssl.create_default_context, cafile=ca_file)
