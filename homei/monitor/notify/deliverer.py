"""Delivers the outbox: each channel in turn, retried with a growing back-off; a
notification leaves the outbox only once its channel has taken it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from homei.core.errors import RateLimited
from homei.core.health import DependencyReport, HealthState
from homei.core.work import Backoff, Workplace, work
from homei.monitor.alert_records import AlertRecord, AlertStore

_LOGGER = logging.getLogger(__name__)

# A channel that failed waits `retry_first` seconds, then twice that, up to `retry_max`.
DELIVERY_BACKOFF = Backoff(
    "alert-delivery",
    first=lambda deliverer: deliverer.retry_first,
    cap=lambda deliverer: deliverer.retry_max,
    key="name",
    refuse=lambda name, wait: RateLimited(f"{name} retries in {wait:.1f}s", {"wait": wait}),
)


class Channel(Protocol):
    """Somewhere an alert's change is sent."""

    async def send(self, alert: AlertRecord, change: str, delivery_id: int) -> None: ...


class Deliverer:
    """Empties the outbox into the channels that `channels()` names now."""

    def __init__(
        self,
        alerts: AlertStore,
        channels: Callable[[], dict[str, Channel]],
        *,
        retry_first: float = 1.0,
        retry_max: float = 300.0,
    ) -> None:
        self._alerts = alerts
        self._channels = channels
        self.retry_first = retry_first
        self.retry_max = retry_max
        self.workplace = Workplace()
        self.failures: dict[str, str] = {}
        self.delivered = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Something new is in the outbox."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="homei-alert-delivery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            wait: float | None = None
            try:
                wait = await self.deliver_all()
            except Exception:
                _LOGGER.exception("Delivering alerts failed; trying again")
                wait = self.retry_max
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def deliver_all(self) -> float | None:
        """One round over the channels with work; seconds until the next retry is due."""
        waits: list[float] = []
        channels = self._channels()
        for name in await self._alerts.pending_channels():
            channel = channels.get(name)
            if channel is None:  # switched off since: nothing to deliver it to
                await self._alerts.drop_channel(name)
                continue
            try:
                await self._attempt(name, channel)
            except RateLimited as err:
                waits.append(float(err.details["wait"]))
            except _ChannelFailed:
                waits.append(self.retry_first)  # the back-off tells the real wait
        return min(waits) if waits else None

    @work(DELIVERY_BACKOFF)
    async def _attempt(self, name: str, channel: Channel) -> None:
        for delivery in await self._alerts.pending(name):
            alert = await self._alerts.get(delivery.alert_id)
            if alert is None:
                await self._alerts.delivered(delivery.id)
                continue
            try:
                await channel.send(alert, delivery.change, delivery.id)
            except Exception as err:
                reason = str(err) or type(err).__name__
                if self.failures.get(name) != reason:
                    _LOGGER.warning("Alert channel %s failed: %s", name, reason)
                self.failures[name] = reason
                await self._alerts.failed(delivery.id, reason)
                raise _ChannelFailed from None
            await self._alerts.delivered(delivery.id)
            self.delivered += 1
        if self.failures.pop(name, None) is not None:
            _LOGGER.info("Alert channel %s delivers again", name)
        self.workplace.forget(DELIVERY_BACKOFF, name)

    async def report(self) -> DependencyReport:
        """The channels as a (non-critical) dependency: degraded while one fails."""
        if self.failures:
            text = "; ".join(f"{name}: {reason}" for name, reason in sorted(self.failures.items()))
            return DependencyReport(
                "notifications", HealthState.DEGRADED, text, details={"failing": self.failures}
            )
        return DependencyReport(
            "notifications",
            HealthState.HEALTHY,
            "Notifications deliver",
            details={"channels": sorted(self._channels()), "delivered": self.delivered},
        )


class _ChannelFailed(Exception):
    """A send failed; its notification stays in the outbox."""
