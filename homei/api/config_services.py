"""`/api/v1/config/{service}`: each service's configuration, its versions, validation,
export and import (000's "Configuration Management"). `/api/v1/config` itself is the
device's configuration, declared elsewhere."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from aiohttp import web

from homei.api.middleware import identity_of
from homei.api.routing import endpoint
from homei.config.config_records import ConfigVersion
from homei.config.manager import ConfigManager
from homei.core.auth import Permission, Role
from homei.core.clock import from_epoch
from homei.core.errors import Forbidden
from homei.services.config_schema import ENVIRONMENT_NAME
from homei.services.spec import NAME_PATTERN, NOT_RESERVED

# Reserved words (`validate`, ...) are routes of their own, never a service's name.
SERVICE = f"{{service_name:{NOT_RESERVED}[a-z0-9][a-z0-9_.-]*}}"
NAME_PARAM = {"service_name": {"type": "string", "pattern": NAME_PATTERN}}
Environment = Annotated[str, msgspec.Meta(pattern=ENVIRONMENT_NAME)]
Values = dict[str, Annotated[str, msgspec.Meta(max_length=65536)]]
FormatName = Literal["env", "yaml", "json"]


class ConfigQuery(msgspec.Struct):
    environment: Environment | None = None
    includeSecrets: bool = False


class ConfigOut(msgspec.Struct):
    service: str
    environment: str
    variables: dict[str, str]
    secrets: dict[str, str]
    version: int
    lastModified: str | None
    modifiedBy: str | None


class ConfigIn(msgspec.Struct, forbid_unknown_fields=True):
    environment: Environment | None = None
    variables: Values = {}
    secrets: Values = {}


class ValidateIn(msgspec.Struct, forbid_unknown_fields=True):
    service: Annotated[str, msgspec.Meta(pattern=NAME_PATTERN)]
    environment: Environment | None = None
    variables: Values = {}
    secrets: Values | None = None


class VerdictOut(msgspec.Struct):
    valid: bool
    errors: list[str]
    warnings: list[str]


class VersionOut(msgspec.Struct):
    version: int
    lastModified: str
    modifiedBy: str
    variables: int
    secrets: int


class VersionsOut(msgspec.Struct):
    service: str
    environment: str
    versions: list[VersionOut]


class EnvironmentQuery(msgspec.Struct):
    environment: Environment | None = None


class ExportQuery(msgspec.Struct):
    format: FormatName = "env"
    environment: Environment | None = None
    includeSecrets: bool = False


class ImportIn(msgspec.Struct, forbid_unknown_fields=True):
    format: FormatName
    data: Annotated[str, msgspec.Meta(max_length=1024 * 1024)]
    environment: Environment | None = None


_RESTORE_PARAMS = {**NAME_PARAM, "version": {"type": "integer", "minimum": 1}}


def _out(config: ConfigVersion) -> ConfigOut:
    return ConfigOut(
        config.service,
        config.environment,
        config.variables,
        config.secrets,
        config.version,
        from_epoch(config.last_modified) if config.version else None,
        config.modified_by or None,
    )


def _may_see_secrets(request: web.Request, asked: bool) -> bool:
    """Secrets in clear are for an admin only: 403 for anyone else who asks."""
    if asked and identity_of(request).role is not Role.ADMIN:
        raise Forbidden(
            "Only an admin may read secrets (includeSecrets=true)",
            {"required": "admin", "role": str(identity_of(request).role)},
        )
    return asked


class ConfigServicesApi:
    """Per-service configuration: thin handlers over `ConfigManager`."""

    def __init__(self, configs: ConfigManager) -> None:
        self._configs = configs

    @endpoint("POST", "/api/v1/config/validate", summary="Validate a service configuration",
              tag="config", permission=Permission.READ, group="services", body=ValidateIn,
              response=VerdictOut, errors=(404,))  # fmt: skip
    async def validate(self, request: web.Request, body: ValidateIn) -> VerdictOut:
        """Checks variables (and `secrets`, when given) against the rules the service
        declares; messages name the variable, never its value."""
        verdict = await self._configs.validate(
            body.service, body.environment, body.variables, body.secrets
        )
        return VerdictOut(verdict.valid, verdict.errors, verdict.warnings)

    @endpoint("GET", f"/api/v1/config/{SERVICE}", summary="Get a service configuration",
              tag="config", permission=Permission.READ, group="services", query=ConfigQuery,
              response=ConfigOut, path_params=NAME_PARAM)  # fmt: skip
    async def get(self, request: web.Request, query: ConfigQuery) -> ConfigOut:
        """The newest version in `environment` (default: the service's active one); secrets
        are `***REDACTED***` unless an admin asks `includeSecrets=true`."""
        include = _may_see_secrets(request, query.includeSecrets)
        name = request.match_info["service_name"]
        return _out(await self._configs.get(name, query.environment, include_secrets=include))

    @endpoint("PUT", f"/api/v1/config/{SERVICE}", summary="Replace a service configuration",
              tag="config", permission=Permission.ADMIN, group="services", body=ConfigIn,
              response=ConfigOut, path_params=NAME_PARAM)  # fmt: skip
    async def put(self, request: web.Request, body: ConfigIn) -> ConfigOut:
        """A new version holding exactly these variables and secrets (a secret given as
        `***REDACTED***` keeps its value); refused whole with 400 `CONFIG_ERROR` when it
        breaks the service's rules. The service's container is recreated with it when it is
        the active environment."""
        written = await self._configs.put(
            request.match_info["service_name"], body.environment, body.variables, body.secrets,
            actor=identity_of(request).username,
        )  # fmt: skip
        return _out(written)

    @endpoint("GET", f"/api/v1/config/{SERVICE}/versions", summary="List configuration versions",
              tag="config", permission=Permission.READ, group="services", query=EnvironmentQuery,
              response=VersionsOut, path_params=NAME_PARAM)  # fmt: skip
    async def versions(self, request: web.Request, query: EnvironmentQuery) -> VersionsOut:
        """Every version of one environment, newest first."""
        name = request.match_info["service_name"]
        environment = query.environment or self._configs.spec(name).config_environment
        rows = await self._configs.versions(name, environment)
        return VersionsOut(name, environment, [
            VersionOut(r.version, from_epoch(r.last_modified), r.modified_by, r.variables,
                       r.secrets) for r in rows
        ])  # fmt: skip

    @endpoint("POST", f"/api/v1/config/{SERVICE}/versions/{{version:[0-9]+}}/restore",
              summary="Restore a configuration version", tag="config",
              permission=Permission.ADMIN, group="services", query=EnvironmentQuery,
              response=ConfigOut, path_params=_RESTORE_PARAMS, errors=(404,))  # fmt: skip
    async def restore(self, request: web.Request, query: EnvironmentQuery) -> ConfigOut:
        """A new version equal to version `version`."""
        restored = await self._configs.restore(
            request.match_info["service_name"], query.environment,
            int(request.match_info["version"]), actor=identity_of(request).username,
        )  # fmt: skip
        return _out(restored)

    @endpoint("GET", f"/api/v1/config/{SERVICE}/export", summary="Export a configuration",
              tag="config", permission=Permission.READ, group="services", query=ExportQuery,
              content_type="text/plain", path_params=NAME_PARAM)  # fmt: skip
    async def export(self, request: web.Request, query: ExportQuery) -> web.Response:
        """As an env file, YAML or JSON; secrets `***REDACTED***` unless an admin asks."""
        include = _may_see_secrets(request, query.includeSecrets)
        text = await self._configs.export(
            request.match_info["service_name"], query.environment, query.format,
            include_secrets=include,
        )  # fmt: skip
        return web.Response(text=text, content_type="text/plain",
                            headers={"Cache-Control": "no-store"})  # fmt: skip

    @endpoint("POST", f"/api/v1/config/{SERVICE}/import", summary="Import a configuration",
              tag="config", permission=Permission.ADMIN, group="services", body=ImportIn,
              response=ConfigOut, path_params=NAME_PARAM)  # fmt: skip
    async def import_(self, request: web.Request, body: ImportIn) -> ConfigOut:
        """A new version from an export (or a hand-written env file): names the service's
        rules call secrets become secrets; checked like a PUT."""
        written = await self._configs.import_(
            request.match_info["service_name"], body.environment, body.format, body.data,
            actor=identity_of(request).username,
        )  # fmt: skip
        return _out(written)
