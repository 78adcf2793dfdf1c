"""The configuration part of the daemon: per-service configurations and their injection, and
the device configuration.

`build_config` creates the configuration store on the device key and the resolver the
service model receives (as a plain callable, so `services/` never imports `config/`).
`build_device_config` creates the device configuration and hands each setting that may
change while the daemon runs to the component that owns it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import msgspec

from homei.backup.schedule import Scheduler
from homei.config.device import DeviceConfig
from homei.config.device_variables import DeviceVariables
from homei.config.injection import ConfigResolver, default_secrets_root
from homei.config.key_backup import DeviceKeyBackup
from homei.config.keys import DeviceKey
from homei.config.manager import ConfigManager
from homei.config.rotation import SecretRotation
from homei.config.rotation_schedule import RotationSchedules
from homei.config.service_config import ServiceConfigs
from homei.core.events import EventBus
from homei.core.ratelimit import RateLimiter
from homei.core.store import Store
from homei.services.reload import ConfigReload
from homei.settings import Settings


def no_device_variables() -> Mapping[str, str]:
    """The device-wide variables when none are configured."""
    return {}


class ConfigParts(msgspec.Struct, frozen=True):
    configs: ServiceConfigs
    resolver: ConfigResolver
    key_backup: DeviceKeyBackup

    async def reload(self) -> None:
        """Read the configurations again (a restore replaced the database)."""
        self.configs.invalidate()


def build_config(
    settings: Settings,
    store: Store,
    device_key: DeviceKey,
    device_variables: Callable[[], Mapping[str, str]] = no_device_variables,
) -> ConfigParts:
    """The configuration store, and the resolver the service model makes instances with."""
    configs = ServiceConfigs(store, device_key)
    root = settings.services.secrets_dir
    secrets_root = Path(root) if root else default_secrets_root(settings.data_dir)
    return ConfigParts(
        configs,
        ConfigResolver(configs, device_key, secrets_root, device_variables),
        DeviceKeyBackup(device_key, settings.secrets_dir / "device.key"),
    )


def build_device_config(
    settings: Settings,
    settings_file: Path,
    events: EventBus,
    limiter: RateLimiter,
    backup_schedules: Scheduler,
    variables: DeviceVariables,
) -> DeviceConfig:
    """The device configuration, with an apply hook for each live setting's owner."""
    config = DeviceConfig(settings, settings_file, events, dict(os.environ))
    config.on_change("log_level", lambda s: logging.getLogger().setLevel(s.log_level.upper()))
    # The access policy reads `rate_limits` on every request; only the window is held apart.
    config.on_change("rate_limits.window", lambda s: limiter.set_window(s.rate_limits.window))
    config.on_change("backup.schedules", lambda s: backup_schedules.replace(s.backup.schedules))
    config.on_change("device.variables", lambda _: variables.changed())
    return config


def build_rotation(
    settings: Settings,
    store: Store,
    configs: ConfigManager,
    services: ConfigReload,
    events: EventBus,
) -> SecretRotation:
    """Secret rotation, by request and on the schedules kept in the database."""
    schedules = RotationSchedules(
        store,
        check_interval=settings.rotation.check_interval,
        retry_after=settings.rotation.retry_after,
    )
    return SecretRotation(configs, services, schedules, events)
