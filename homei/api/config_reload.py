"""`/api/v1/config/{service}/reload`: a service takes its configuration again."""

from __future__ import annotations

import msgspec
from aiohttp import web

from homei.api.config_services import SERVICE
from homei.api.middleware import identity_of
from homei.api.routing import endpoint
from homei.api.services import NAME_PARAM
from homei.core.auth import Permission
from homei.services.reload import ConfigReload


class ReloadStarted(msgspec.Struct):
    service: str
    status: str
    message: str
    taskId: str


class ConfigReloadApi:
    """Reloading a service's configuration."""

    def __init__(self, reload: ConfigReload) -> None:
        self._reload = reload

    @endpoint("POST", f"/api/v1/config/{SERVICE}/reload",
              summary="Reload a service's configuration", tag="config",
              permission=Permission.CONTROL, group="services",
              response=ReloadStarted, status=202, path_params=NAME_PARAM)  # fmt: skip
    async def reload(self, request: web.Request) -> ReloadStarted:
        """As a task: sends the signal or runs the command the service's spec declares under
        `reload` (the instance keeps running), or else recreates its instance and restarts,
        in dependency order, the services running on top of it. `config:reloaded` when done."""
        name = request.match_info["service_name"]
        record = await self._reload.reload(name, created_by=identity_of(request).username)
        return ReloadStarted(name, "reloading", "Reload started", record.id)
