"""Seed 003's validation routes: `/validate/service`, `/validate/system`, `/system/health`."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from homei.api.routing import endpoint
from homei.core.auth import Permission
from homei.core.errors import Unavailable
from homei.proxy.validation import ServiceValidator, SystemChecks


class Problem(msgspec.Struct):
    field: str
    message: str
    code: str


class ServiceVerdict(msgspec.Struct):
    valid: bool
    errors: list[Problem]
    warnings: list[Problem]
    checks: dict[str, bool]


class SystemVerdict(msgspec.Struct):
    is_valid: bool
    errors: list[Problem]
    warnings: list[Problem]
    checks: dict[str, bool | dict[str, bool]]


class SystemHealth(msgspec.Struct):
    healthy: bool
    checks: dict[str, bool]
    errors: list[Problem]
    warnings: list[Problem]


class SystemUnhealthy(Unavailable):
    code = "SYSTEM_UNHEALTHY"


class ValidationApi:
    def __init__(self, services: ServiceValidator, system: SystemChecks) -> None:
        self._services = services
        self._system = system

    @endpoint(
        "POST",
        "/api/v1/validate/service",
        summary="Validate a service before creating it",
        tag="validation",
        permission=Permission.READ,
        group="services",
        body=dict[str, Any],
        response=ServiceVerdict,
    )
    async def service(self, request: web.Request, body: dict[str, Any]) -> ServiceVerdict:
        """Homei's service body (either runtime) or seed 003's `project_name` body, checked
        without changing anything: every problem as `{field, message, code}`
        (`DUPLICATE_PROJECT_NAME`, `PORT_IN_USE`, `INVALID_DOMAIN`, `DOMAIN_TAKEN`, ...)."""
        return msgspec.convert(await self._services.validate(body), ServiceVerdict)

    @endpoint(
        "GET",
        "/api/v1/validate/system",
        summary="Validate the device's prerequisites",
        tag="validation",
        permission=Permission.READ,
        response=SystemVerdict,
    )
    async def system(self, request: web.Request) -> SystemVerdict:
        """systemd and its unit folder, Caddy's admin API, the base folder and the tools."""
        return msgspec.convert(await self._system.validate(), SystemVerdict)

    @endpoint(
        "GET",
        "/api/v1/system/health",
        summary="System health for native services",
        tag="validation",
        permission=Permission.READ,
        response=SystemHealth,
        errors=(503,),
    )
    async def health(self, request: web.Request) -> SystemHealth:
        """200 when nothing refuses native services; 503 in the error envelope otherwise,
        its details holding the same `healthy`, `checks`, `errors` and `warnings`."""
        found = await self._system.health()
        if not found["healthy"]:
            raise SystemUnhealthy("The system is not ready for native services", found)
        return msgspec.convert(found, SystemHealth)
