"""The alert engine: turns figures and events into alerts that fire once, resolve when
their condition is gone, and survive a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from homei.core.errors import NotFound
from homei.core.events import Event, EventBus
from homei.core.health import DependencyReport, HealthState
from homei.monitor.alert_records import (
    AlertQuery,
    AlertRecord,
    AlertStore,
    Finding,
    Level,
)
from homei.monitor.alert_settings import AlertSettings, Sealer, check, seal, unseal
from homei.monitor.event_rules import WATCHED_EVENTS, event_verdicts
from homei.monitor.rules import (
    Conditions,
    DiskTrend,
    Key,
    RestartCounter,
    family_of,
    threshold_verdicts,
)

_LOGGER = logging.getLogger(__name__)

# Dependencies that are the alerts' own (a failing channel alerting about itself).
OWN_DEPENDENCIES = frozenset({"notifications"})


class AlertNotFound(NotFound):
    code = "ALERT_NOT_FOUND"


class AlertEngine:
    """Rules over the sampler's figures and the bus's events; alerts in the store."""

    def __init__(
        self,
        alerts: AlertStore,
        events: EventBus,
        key: Sealer,
        *,
        should_run: Callable[[str], bool] = lambda _: True,
        dependencies: Callable[[], Awaitable[list[DependencyReport]]] | None = None,
        dependency_interval: float = 10.0,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._alerts = alerts
        self._events = events
        self._key = key
        self._should_run = should_run
        self._dependencies = dependencies
        self._dependency_interval = dependency_interval
        self._clock = clock
        self._on_change = on_change  # the deliverer's wake-up
        self.settings = AlertSettings()
        self.conditions = Conditions()
        self._open: dict[Key, AlertRecord] = {}
        self._clearing: set[Key] = set()
        self._trend = DiskTrend()
        self._restarts = RestartCounter()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_dependency_poll = 0.0

    async def load(self) -> None:
        """Read the stored settings and the alerts still firing."""
        raw = await self._alerts.load_settings()
        if raw is not None:
            self.settings = await asyncio.to_thread(unseal, raw, self._key)
        for alert in await self._alerts.firing():
            key = (alert.rule, alert.subject)
            self._open[key] = alert
            self.conditions.firing.add(key)

    def start(self) -> None:
        subscription = self._events.subscribe(WATCHED_EVENTS, queue_size=1024)
        self._tasks = [
            asyncio.create_task(self._consume(subscription), name="homei-alert-events"),
            asyncio.create_task(self._run(), name="homei-alert-rules"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # Figures -------------------------------------------------------------------------

    def observe(self, gauges: Mapping[str, float], at: float) -> None:
        """One snapshot of the sampler: each threshold rule holds, clears or stays."""
        for verdict in threshold_verdicts(gauges, self.settings):
            if verdict.finding is not None:
                self.conditions.hold(verdict.finding, at)
            else:
                self._clear(verdict.rule, verdict.subject)
        rule = self.settings.rules.disk_full
        for name, free in gauges.items():
            family, _, mount = name.partition(":")
            if family != "disk_free_bytes" or not rule.enabled:
                continue
            self._trend.add(mount, free, at, rule.window)
            left = self._trend.seconds_to_full(mount, rule.window)
            if left is None:  # too few figures yet (after a start, say): nothing changes
                continue
            if left < rule.horizon:
                hours = left / 3600
                self.conditions.hold(
                    Finding("disk_full", mount, Level.WARNING, "system",
                            f"{mount} will be full in {hours:.1f} h at its current rate",
                            {"mount": mount, "free": free, "secondsToFull": round(left)}),
                    at,
                )  # fmt: skip
            else:
                self._clear("disk_full", mount)
        self._wake.set()

    # Events --------------------------------------------------------------------------

    async def _consume(self, subscription: Any) -> None:
        try:
            async for event in subscription:
                try:
                    self.on_event(event)
                except Exception:
                    _LOGGER.exception("Alert rules could not take event %s", event.type)
        finally:
            self._events.unsubscribe(subscription)

    def on_event(self, event: Event) -> None:
        """What a bus event means to the event rules."""
        at = self._clock()
        rules = self.settings.rules
        for verdict in event_verdicts(
            event.type, event.data, rules, at, self._should_run, self._restarts
        ):
            if verdict.finding is not None:
                self.conditions.hold(verdict.finding, at)
            else:
                self._clear(verdict.rule, verdict.subject)
        self._wake.set()

    def _clear(self, rule: str, subject: str) -> None:
        if self.conditions.clear(rule, subject):
            self._clearing.add((rule, subject))

    # The loop ------------------------------------------------------------------------

    def hold_for(self, rule: str) -> float:
        """The `for` duration of a rule."""
        rules = self.settings.rules
        named: dict[str, float] = {
            "service_down": rules.service_down.for_,
            "service_oom": rules.service_oom.for_,
            "dependency_down": rules.dependency_down.for_,
            "update_failed": rules.update_failed.for_,
            "backup_failed": rules.backup_failed.for_,
            "service_restarts": 0.0,
            "disk_full": 0.0,
        }
        return named[rule] if rule in named else rules.timing(family_of(rule)).for_

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.step()
            except Exception:
                _LOGGER.exception("Alert rules failed; trying again")

    async def step(self) -> None:
        """Fire what has held long enough, resolve what has cleared, poll dependencies."""
        at = self._clock()
        rule = self.settings.rules.service_restarts
        for key in self.conditions.keys("service_restarts"):
            fired = self._open.get(key)
            # The deaths before a restart are not known: an alert fired then waits its window.
            settled = fired is None or at - fired.fired_at >= rule.window
            if settled and self._restarts.count(key[1], at, rule.window) < rule.count:
                self._clear(*key)
        if self._dependencies is not None and at - self._last_dependency_poll >= (
            self._dependency_interval
        ):
            self._last_dependency_poll = at
            await self._poll_dependencies(at)
        while self._clearing:
            await self._resolve(self._clearing.pop(), at)
        for finding in self.conditions.due(at, self.hold_for):
            await self._fire(finding, at)

    async def _poll_dependencies(self, at: float) -> None:
        assert self._dependencies is not None
        rule = self.settings.rules.dependency_down
        for report in await self._dependencies():
            if report.name in OWN_DEPENDENCIES:
                continue
            if report.status is HealthState.HEALTHY or not rule.enabled:
                self._clear("dependency_down", report.name)
                continue
            level = Level.CRITICAL if report.critical else Level.WARNING
            self.conditions.hold(
                Finding("dependency_down", report.name, level, "health",
                        f"{report.name} is {report.status}: {report.message}",
                        {"dependency": report.name, "status": str(report.status)}),
                at,
            )  # fmt: skip

    async def _fire(self, finding: Finding, at: float) -> None:
        key = (finding.rule, finding.subject)
        if key in self._open:
            return
        alert = await self._alerts.fire(finding, self.settings.channels(finding.level), at)
        self._open[key] = alert
        self.conditions.firing.add(key)
        _LOGGER.warning("Alert %s (%s): %s", alert.id, alert.level, alert.message)
        if self._is_shown(alert):
            self._events.publish("alert:firing", alert.as_wire())
        self._on_change()

    async def _resolve(self, key: Key, at: float) -> None:
        alert = self._open.pop(key, None)
        self.conditions.firing.discard(key)
        if alert is None:
            return
        alert = await self._alerts.resolve(alert, self.settings.channels(alert.level), at)
        _LOGGER.info("Alert %s resolved: %s", alert.id, alert.message)
        if self._is_shown(alert):
            self._events.publish("alert:resolved", alert.as_wire())
        self._on_change()

    def _is_shown(self, alert: AlertRecord) -> bool:
        """002's `desktop` channel: the `alert:*` events the WebSockets carry."""
        n = self.settings.notifications
        return n.desktop and alert.level.rank >= n.min_level.rank

    # What the API asks -----------------------------------------------------------------

    def firing_counts(self) -> dict[Level, int]:
        """Open alerts per level, from memory (for `/metrics`)."""
        counts = dict.fromkeys(Level, 0)
        for alert in self._open.values():
            counts[alert.level] += 1
        return counts

    async def query(self, query: AlertQuery) -> tuple[list[AlertRecord], int]:
        """A page of alerts and the count of all that match."""
        return await self._alerts.query(query)

    async def acknowledge(self, alert_id: str, by: str) -> AlertRecord:
        """Mark an alert seen; `alert:acknowledged` goes out the first time."""
        before = await self._alerts.get(alert_id)
        if before is None:
            raise AlertNotFound(f"Alert '{alert_id}' not found", {"alert_id": alert_id})
        alert = await self._alerts.acknowledge(alert_id, by)
        assert alert is not None
        if before.acknowledged_at is None:
            for key, record in self._open.items():
                if record.id == alert_id:
                    self._open[key] = alert
            if self._is_shown(alert):
                self._events.publish("alert:acknowledged", alert.as_wire())
        return alert

    async def apply(self, settings: AlertSettings) -> AlertSettings:
        """Check, store and apply new settings at once; what is stored."""
        check(settings)
        raw = await asyncio.to_thread(seal, settings, self._key)
        await self._alerts.save_settings(raw)
        self.settings = settings
        rules = settings.rules
        for enabled, prefix in (
            (rules.service_down.enabled, "service_down"),
            (rules.service_oom.enabled, "service_oom"),
            (rules.service_restarts.enabled, "service_restarts"),
            (rules.dependency_down.enabled, "dependency_down"),
            (rules.update_failed.enabled, "update_failed"),
            (rules.backup_failed.enabled, "backup_failed"),
            (rules.disk_full.enabled, "disk_full"),
        ):
            if not enabled:
                for rule, subject in self.conditions.keys(prefix):
                    self._clear(rule, subject)
        self._wake.set()
        return settings
