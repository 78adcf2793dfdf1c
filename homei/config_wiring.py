"""The configuration part of the daemon: per-service configurations and their injection.

`build_config` creates the configuration store on the device key and the resolver the
service model receives (as a plain callable, so `services/` never imports `config/`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import msgspec

from homei.config.injection import ConfigResolver, default_secrets_root
from homei.config.key_backup import DeviceKeyBackup
from homei.config.keys import DeviceKey
from homei.config.service_config import ServiceConfigs
from homei.core.store import Store
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
