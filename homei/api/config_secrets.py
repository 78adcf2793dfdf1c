"""`/api/v1/config/{service}/secrets/{key}/rotate|schedule`: a secret's rotation, now or on
a schedule."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from homei.api.config_services import SERVICE, Environment
from homei.api.middleware import identity_of
from homei.api.routing import endpoint
from homei.api.services import NAME_PARAM
from homei.config.rotation import SecretRotation
from homei.core.auth import Permission
from homei.core.clock import from_epoch
from homei.services.config_schema import SECRET_NAME

KEY_REF = "{secret_key:[A-Za-z_][A-Za-z0-9_.-]*}"
PATH_PARAMS = {**NAME_PARAM, "secret_key": {"type": "string", "pattern": SECRET_NAME}}


class RotateBody(msgspec.Struct, forbid_unknown_fields=True):
    environment: Environment | None = None
    # The new value; without it, one is made from the secret's rotation policy.
    value: Annotated[str, msgspec.Meta(min_length=1, max_length=65536)] | None = None


class RotationOut(msgspec.Struct):
    service: str
    secret: str
    environment: str
    rotated: bool
    version: int
    nextRotation: str | None


class ScheduleBody(msgspec.Struct, forbid_unknown_fields=True):
    intervalDays: Annotated[float, msgspec.Meta(gt=0, le=3650)]
    environment: Environment | None = None


class ScheduleOut(msgspec.Struct):
    service: str
    secret: str
    environment: str
    intervalDays: float
    nextRotation: str


class ConfigSecretsApi:
    """Rotating services' secrets."""

    def __init__(self, rotation: SecretRotation) -> None:
        self._rotation = rotation

    @endpoint("POST", f"/api/v1/config/{SERVICE}/secrets/{KEY_REF}/rotate",
              summary="Rotate a secret", tag="config", permission=Permission.ADMIN,
              body=RotateBody, body_optional=True, response=RotationOut,
              path_params=PATH_PARAMS, errors=(404, 409))  # fmt: skip
    async def rotate(self, request: web.Request, body: RotateBody) -> RotationOut:
        """Writes a new value (`value`, or one made from the secret's rotation policy:
        `length` characters of `alphabet`) as a new version and applies it. When the service
        is not healthy again within its health window, the previous version is put back and
        applied, and the answer is 409 `ROTATION_FAILED` with the reason."""
        rotated = await self._rotation.rotate(
            request.match_info["service_name"],
            request.match_info["secret_key"],
            environment=body.environment,
            value=body.value,
            actor=identity_of(request).username,
        )
        due = rotated.next_rotation
        return RotationOut(
            rotated.service,
            rotated.secret,
            rotated.environment,
            True,
            rotated.version,
            from_epoch(due) if due is not None else None,
        )

    @endpoint("POST", f"/api/v1/config/{SERVICE}/secrets/{KEY_REF}/schedule",
              summary="Schedule a secret's rotation", tag="config",
              permission=Permission.ADMIN, body=ScheduleBody, response=ScheduleOut,
              path_params=PATH_PARAMS, errors=(404,))  # fmt: skip
    async def schedule(self, request: web.Request, body: ScheduleBody) -> ScheduleOut:
        """Rotates the secret every `intervalDays` from now on (kept across restarts; one
        missed while the device was off runs once at the next start)."""
        schedule = await self._rotation.schedule(
            request.match_info["service_name"],
            request.match_info["secret_key"],
            body.intervalDays,
            environment=body.environment,
        )
        return ScheduleOut(
            schedule.service,
            schedule.secret,
            schedule.environment,
            schedule.interval_days,
            from_epoch(schedule.next_due),
        )
