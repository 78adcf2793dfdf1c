"""`/api/v1/fleet`: the hawkBit DDI client's settings, state, and the owner's consent."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from aiohttp import web

from homei.api.middleware import identity_of
from homei.api.routing import endpoint
from homei.config.device import DeviceConfig
from homei.core.auth import Permission
from homei.core.errors import ConfigError
from homei.fleet.actions import FleetAction
from homei.fleet.client import FleetClient
from homei.settings_sections import FleetSettings

ACTION_PARAM = {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,64}$"}
REDACTED = "********"
Seconds = Annotated[float, msgspec.Meta(gt=0)]
Url = Annotated[str, msgspec.Meta(pattern=r"^$|^https?://[^\s]+$")]
Tenant = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
ControllerId = Annotated[str, msgspec.Meta(pattern=r"^$|^[A-Za-z0-9_.:-]{1,64}$")]


class FleetSettingsIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The `[fleet]` settings to change; those left out stay as they are."""

    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    url: Url | msgspec.UnsetType = msgspec.UNSET
    tenant: Tenant | msgspec.UnsetType = msgspec.UNSET
    controller_id: ControllerId | msgspec.UnsetType = msgspec.UNSET
    token: str | msgspec.UnsetType = msgspec.UNSET
    token_kind: Literal["target", "gateway"] | msgspec.UnsetType = msgspec.UNSET
    ca_file: str | msgspec.UnsetType = msgspec.UNSET
    apply: Literal["immediately", "maintenance_window"] | msgspec.UnsetType = msgspec.UNSET
    poll_min: Seconds | msgspec.UnsetType = msgspec.UNSET
    poll_max: Seconds | msgspec.UnsetType = msgspec.UNSET
    request_timeout: Seconds | msgspec.UnsetType = msgspec.UNSET
    reboot_after_install: bool | msgspec.UnsetType = msgspec.UNSET


class FleetSettingsOut(msgspec.Struct):
    enabled: bool
    url: str
    tenant: str
    controller_id: str
    token: str
    token_kind: str
    ca_file: str
    apply: str
    poll_min: float
    poll_max: float
    request_timeout: float
    reboot_after_install: bool


class LastAnswer(msgspec.Struct):
    sleep: str
    links: list[str]


class FleetOut(msgspec.Struct):
    settings: FleetSettingsOut
    running: bool
    controller_id: str | None
    last_poll: str | None
    last_answer: LastAnswer | None
    last_error: str | None
    next_poll_in: float | None
    action: FleetAction | None
    pending_confirmation: list[FleetAction]
    recent: list[FleetAction]


class FleetApi:
    """Shows and changes the fleet client; confirms or denies a pending action."""

    def __init__(self, fleet: FleetClient, config: DeviceConfig) -> None:
        self._fleet = fleet
        self._config = config

    async def _out(self) -> FleetOut:
        section = dict(self._config.snapshot()["fleet"])
        if section.get("token"):
            section["token"] = REDACTED
        state = await self._fleet.status()
        return msgspec.convert({"settings": section, **state}, FleetOut, from_attributes=True)

    @endpoint("GET", "/api/v1/fleet", summary="Fleet client", tag="fleet",
              permission=Permission.READ, response=FleetOut)  # fmt: skip
    async def show(self, request: web.Request) -> FleetOut:
        """The `[fleet]` settings (the token redacted), the last poll and the server's answer,
        the action in progress and any action waiting for the owner's consent."""
        return await self._out()

    @endpoint("PUT", "/api/v1/fleet", summary="Change the fleet client", tag="fleet",
              permission=Permission.ADMIN, body=FleetSettingsIn, response=FleetOut,
              errors=(400,))  # fmt: skip
    async def change(self, request: web.Request, body: FleetSettingsIn) -> FleetOut:
        """Checks the changed settings as a whole, writes them to the settings file
        atomically and applies them at once (the client reconnects)."""
        change = msgspec.to_builtins(body)
        if change.get("token") == REDACTED:
            del change["token"]  # the redacted value sent back unchanged
        merged = msgspec.convert({**self._config.snapshot()["fleet"], **change}, FleetSettings)
        problems = merged.problems()
        if problems:
            listed = "; ".join(f"{key}: {problem}" for key, problem in problems.items())
            raise ConfigError(
                f"Invalid configuration: {listed}",
                {"fields": [{"path": k, "message": m} for k, m in problems.items()]},
            )
        await self._config.update({"fleet": change}, actor=identity_of(request).username)
        return await self._out()

    @endpoint("POST", "/api/v1/fleet/actions/{action_id}/confirm", summary="Confirm an action",
              tag="fleet", permission=Permission.ADMIN, response=FleetAction,
              path_params={"action_id": ACTION_PARAM}, errors=(404, 409))  # fmt: skip
    async def confirm(self, request: web.Request) -> FleetAction:
        """Consents to a rollout that asks for it; the server then sends the deployment."""
        return await self._fleet.confirm(
            request.match_info["action_id"], True, identity_of(request).username
        )

    @endpoint("POST", "/api/v1/fleet/actions/{action_id}/deny", summary="Deny an action",
              tag="fleet", permission=Permission.ADMIN, response=FleetAction,
              path_params={"action_id": ACTION_PARAM}, errors=(404, 409))  # fmt: skip
    async def deny(self, request: web.Request) -> FleetAction:
        """Refuses a rollout that asks for consent."""
        return await self._fleet.confirm(
            request.match_info["action_id"], False, identity_of(request).username
        )
