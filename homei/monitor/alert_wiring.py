"""The alerts' part of the daemon: engine, outbox deliverer, their health and metrics.

`build_alerts` connects them to the bus, the health checks and the device key; `homei.app`
starts and stops the parts. The device sampler (`monitor/sampler.py`) feeds
`AlertEngine.observe` with every snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

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
from homei.settings_sections import AlertsSettings

_LOGGER = logging.getLogger(__name__)


class AlertParts(msgspec.Struct, frozen=True):
    engine: AlertEngine
    deliverer: Deliverer


def build_alerts(
    config: AlertsSettings,
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
    return AlertParts(engine, deliverer)


def _reader(engine: AlertEngine, level: Level) -> Callable[[], float]:
    return lambda: engine.firing_counts()[level]
