"""The alerts' part of the daemon: engine, outbox deliverer, their health and metrics.

`build_alerts` connects them to the bus, the health checks and the device key; `homei.app`
starts and stops the parts. Until the device sampler feeds `AlertEngine.observe`, a small
psutil reader here does, every `alerts.sample_interval` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from homei.config.keys import DeviceKey
from homei.core.events import EventBus
from homei.core.health import Health
from homei.core.store import Store
from homei.monitor.alert_records import AlertStore, Level
from homei.monitor.alerts import AlertEngine
from homei.monitor.api_metrics import ApiMetrics
from homei.monitor.notify.deliverer import Channel, Deliverer
from homei.monitor.notify.email import EmailChannel
from homei.monitor.notify.webhook import WebhookChannel
from homei.settings import AlertsSettings

_LOGGER = logging.getLogger(__name__)


class AlertParts(msgspec.Struct, frozen=True):
    engine: AlertEngine
    deliverer: Deliverer
    sampler: GaugeReader


def build_alerts(
    config: AlertsSettings,
    data_dir: Path,
    store: Store,
    events: EventBus,
    health: Health,
    metrics: ApiMetrics,
    device_key: DeviceKey,
    should_run: Callable[[str], bool],
) -> AlertParts:
    alerts = AlertStore(store)
    engine: AlertEngine

    def channels() -> dict[str, Channel]:
        n = engine.settings.notifications
        chosen: dict[str, Channel] = {}
        if n.webhook is not None:
            chosen["webhook"] = WebhookChannel(n.webhook)
        if n.email and n.smtp is not None:
            chosen["email"] = EmailChannel(n.smtp)
        return chosen

    deliverer = Deliverer(
        alerts, channels, retry_first=config.retry_first, retry_max=config.retry_max
    )
    engine = AlertEngine(
        alerts,
        events,
        device_key,
        should_run=should_run,
        dependencies=health.check,
        dependency_interval=config.dependency_interval,
        on_change=deliverer.wake,
    )
    health.register("notifications", deliverer.report, critical=False)
    metrics.labelled_gauge(
        "homei_alerts_firing",
        "Alerts firing now",
        "level",
        {str(level): _reader(engine, level) for level in Level},
    )
    return AlertParts(engine, deliverer, GaugeReader(engine, data_dir, config.sample_interval))


def _reader(engine: AlertEngine, level: Level) -> Callable[[], float]:
    return lambda: engine.firing_counts()[level]


class GaugeReader:
    """The figures the threshold rules watch, read on a thread and handed to the engine."""

    def __init__(self, engine: AlertEngine, data_dir: Path, interval: float) -> None:
        self._engine = engine
        self._data_dir = data_dir
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._interval > 0:
            self._task = asyncio.create_task(self._run(), name="homei-alert-gauges")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            # Waiting first keeps psutil's import out of the daemon's start.
            await asyncio.sleep(self._interval)
            try:
                gauges = await asyncio.to_thread(read_gauges, self._data_dir)
                self._engine.observe(gauges, time.time())
            except Exception:
                _LOGGER.exception("Reading the figures for alerts failed")


def read_gauges(data_dir: Path) -> dict[str, float]:
    """cpu, memory, swap, load1, the data filesystem and temperatures (blocking)."""
    import psutil  # imported on first use, in this worker thread

    mount = _mount_of(data_dir)
    gauges: dict[str, float] = {
        "cpu": psutil.cpu_percent(interval=None),
        "memory": psutil.virtual_memory().percent,
        "swap": psutil.swap_memory().percent,
        "load1": os.getloadavg()[0],
    }
    disk = psutil.disk_usage(mount)
    gauges[f"disk:{mount}"] = disk.percent
    gauges[f"disk_free_bytes:{mount}"] = float(disk.free)
    stat = os.statvfs(mount)
    if stat.f_files:
        gauges[f"inodes:{mount}"] = 100.0 * (stat.f_files - stat.f_ffree) / stat.f_files
    sensors: Any = getattr(psutil, "sensors_temperatures", None)
    with contextlib.suppress(OSError, AttributeError):
        for zone, readings in (sensors() if sensors else {}).items():
            if readings:
                gauges[f"temperature:{zone}"] = max(r.current for r in readings)
    return gauges


def _mount_of(path: Path) -> str:
    current = path.resolve()
    while not os.path.ismount(current) and current.parent != current:
        current = current.parent
    return str(current)
