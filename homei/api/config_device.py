"""`/api/v1/config`: the device's configuration, read and changed while it runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

import homei
from homei.api.middleware import identity_of
from homei.api.routing import endpoint
from homei.config.device import DeviceConfig
from homei.core.auth import Permission
from homei.core.errors import ConfigError
from homei.settings_sections import Domain, VariableName, VariableValue


class DeviceConfigOut(msgspec.Struct):
    orchestrator: dict[str, Any]
    domain: str
    media_dir: str
    downloads_dir: str
    services: list[str]
    variables: dict[str, str]
    settings_file: str


class DeviceConfigChange(msgspec.Struct, forbid_unknown_fields=True):
    orchestrator: dict[str, Any] | None = None
    domain: Domain | None = None
    media_dir: str | None = None
    downloads_dir: str | None = None
    services: list[str] | None = None
    variables: dict[VariableName, VariableValue] | None = None


class ConfigUpdated(msgspec.Struct):
    status: str
    message: str
    changed: list[str]


class DeviceConfigApi:
    """The device-wide configuration of seeds 001 and 002."""

    def __init__(self, config: DeviceConfig, services: Callable[[], list[str]]) -> None:
        self._config = config
        self._services = services

    @endpoint("GET", "/api/v1/config", summary="Device configuration", tag="config",
              permission=Permission.READ, response=DeviceConfigOut)  # fmt: skip
    async def get(self, request: web.Request) -> DeviceConfigOut:
        """Every setting under `orchestrator` (001's shape), and the device's domain, data
        folders, installed services and variables (002's)."""
        settings = self._config.snapshot()
        device = settings.pop("device")
        api = settings["api"]
        listen = self._config.listen
        orchestrator = {
            "name": "Homei",
            "version": homei.__version__,
            **settings,
            "api": {**api, "host": listen[0], "port": listen[1]},
        }
        return DeviceConfigOut(
            orchestrator,
            device["domain"],
            device["media_dir"],
            device["downloads_dir"],
            sorted(self._services()),
            device["variables"],
            str(self._config.settings_file),
        )

    @endpoint("PUT", "/api/v1/config", summary="Change the device configuration",
              tag="config", permission=Permission.ADMIN, body=DeviceConfigChange,
              response=ConfigUpdated)  # fmt: skip
    async def put(self, request: web.Request, body: DeviceConfigChange) -> ConfigUpdated:
        """Changes the settings that apply while the daemon runs (`orchestrator.log_level`,
        `rate_limits`, `backup.schedules`, ...) and the device's `domain`, folders and
        `variables` (the complete new set). Checked as a whole: 400 `CONFIG_ERROR` names
        every bad key, and refuses those that apply only at start. Written to the settings
        file, applied at once, announced as `system:config:changed`."""
        change: dict[str, Any] = dict(body.orchestrator or {})
        device = {
            name: value
            for name in ("domain", "media_dir", "downloads_dir", "variables")
            if (value := getattr(body, name)) is not None
        }
        if device:
            change["device"] = {**change.get("device", {}), **device}
        if body.services is not None and sorted(body.services) != sorted(self._services()):
            raise ConfigError(
                "services: install and remove services through /api/v1/services",
                {"fields": [{"path": "services", "message": "read-only"}]},
            )
        changed = await self._config.update(change, actor=identity_of(request).username)
        message = "Configuration updated successfully" if changed else "Nothing to change"
        return ConfigUpdated("updated" if changed else "unchanged", message, changed)
