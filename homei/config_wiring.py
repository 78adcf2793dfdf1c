"""The device configuration's part of the daemon: `build_device_config` creates it and hands
each setting that may change while the daemon runs to the component that owns it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from homei.backup.schedule import Scheduler
from homei.config.device import DeviceConfig
from homei.core.events import EventBus
from homei.core.ratelimit import RateLimiter
from homei.settings import Settings


def build_device_config(
    settings: Settings,
    settings_file: Path,
    events: EventBus,
    limiter: RateLimiter,
    backup_schedules: Scheduler,
) -> DeviceConfig:
    """The device configuration, with an apply hook for each live setting's owner."""
    config = DeviceConfig(settings, settings_file, events, dict(os.environ))
    config.on_change("log_level", lambda s: logging.getLogger().setLevel(s.log_level.upper()))
    # The access policy reads `rate_limits` on every request; only the window is held apart.
    config.on_change("rate_limits.window", lambda s: limiter.set_window(s.rate_limits.window))
    config.on_change("backup.schedules", lambda s: backup_schedules.replace(s.backup.schedules))
    return config
