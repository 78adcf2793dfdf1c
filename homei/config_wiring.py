"""The configuration part of the daemon: per-service configurations and their injection.

`build_config` creates the configuration store on the device key and the resolver the
service model receives (as a plain callable, so `services/` never imports `config/`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import msgspec

from homei.config.keys import DeviceKey
from homei.config.service_config import ServiceConfigs
from homei.core.store import Store


def no_device_variables() -> Mapping[str, str]:
    """The device-wide variables when none are configured."""
    return {}


class ConfigParts(msgspec.Struct, frozen=True):
    configs: ServiceConfigs
    device_variables: Callable[[], Mapping[str, str]]


def build_config(
    store: Store,
    device_key: DeviceKey,
    device_variables: Callable[[], Mapping[str, str]] = no_device_variables,
) -> ConfigParts:
    """The configuration store, and what the service model needs of it."""
    return ConfigParts(ServiceConfigs(store, device_key), device_variables)
