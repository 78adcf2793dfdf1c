"""The monitoring part of the daemon: the device sampler, its history, the figures' shapes
and their Prometheus families, created together and connected to what they read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec

from homei.core.store import Store
from homei.monitor.alerts import AlertEngine
from homei.monitor.api_metrics import ApiMetrics
from homei.monitor.history import History, Retention
from homei.monitor.overview import Overview
from homei.monitor.prometheus import CountsCollector, DeviceCollector
from homei.monitor.sampler import DeviceSampler
from homei.monitor.thresholds import Level, Thresholds
from homei.monitor.timeline import Timeline
from homei.settings_sections import MonitorSettings


class MonitorParts(msgspec.Struct, frozen=True):
    history: History
    sampler: DeviceSampler
    overview: Overview
    timeline: Timeline


def build_monitor(
    settings: MonitorSettings,
    data_dir: Path,
    store: Store,
    metrics: ApiMetrics,
    *,
    service_health: Callable[[], list[dict[str, Any]]],
    list_containers: Callable[[], Awaitable[list[Any]]],
    thresholds: Callable[[], Thresholds] = Thresholds,
) -> MonitorParts:
    """The monitoring components; `thresholds` gives the levels in force at each call."""
    history = History(
        store,
        Retention(
            settings.raw_retention,
            settings.minute_retention,
            settings.five_minute_retention,
            settings.hour_retention,
        ),
    )
    sampler = DeviceSampler(
        history,
        interval=settings.interval,
        flush_interval=settings.flush_interval,
        sysfs_root=Path(settings.sysfs_root),
    )
    overview = Overview(sampler, data_dir, thresholds)
    device = DeviceCollector(sampler)
    metrics.add_collector(device.collect, device.refresh)
    counts = CountsCollector(service_health, list_containers)
    metrics.add_collector(counts.collect, counts.refresh)
    return MonitorParts(history, sampler, overview, Timeline(history, overview))


def alert_thresholds(engine: AlertEngine) -> Callable[[], Thresholds]:
    """The levels `/alerts/settings` holds now, for the figures' statuses."""

    def current() -> Thresholds:
        levels = engine.settings.thresholds
        return Thresholds(
            Level(levels.cpu.warning, levels.cpu.critical),
            Level(levels.memory.warning, levels.memory.critical),
            Level(levels.disk.warning, levels.disk.critical),
        )

    return current
