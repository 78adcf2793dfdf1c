"""The fleet client: polls the DDI server at the pace it asks for, and works through its
actions with Homei's own update path (install task, boot health gate, rollback)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from homei.core.clock import now_iso
from homei.core.events import EventBus
from homei.core.health import DependencyReport, HealthState
from homei.fleet.actions import FINAL, ActionState, ActionStore, FleetAction
from homei.fleet.consent import answer_consent, ask_consent
from homei.fleet.ddi import (
    CancelAction,
    Confirmation,
    DdiClient,
    DdiError,
    DeploymentBase,
    PollAnswer,
    action_id_of,
    parse_sleep,
)
from homei.fleet.deploy import Deployer
from homei.settings_sections import FleetSettings

_LOGGER = logging.getLogger(__name__)

# What changes the versions or the booted slot the server should know of.
DEVICE_CHANGES = (
    "update:completed",
    "update:verified",
    "update:rejected",
    "update:rolled_back",
    "backup:restored",
)

# The device's attributes for configData, and whether they are complete (RAUC answered).
DeviceData = Callable[[], Awaitable[tuple[dict[str, str], bool]]]


class FleetClient:
    """The poll loop, the state `GET /api/v1/fleet` shows, and the answers to the server."""

    def __init__(
        self,
        settings: Callable[[], FleetSettings],
        controller_id: Callable[[], Awaitable[str]],
        actions: ActionStore,
        deployer: Deployer,
        events: EventBus,
        device_data: DeviceData,
    ) -> None:
        self._settings = settings
        self._controller_id = controller_id
        self.actions = actions
        self._deployer = deployer
        self._events = events
        self._device_data = device_data
        self._ddi: DdiClient | None = None
        self._loop: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._config_due = True
        self.last_poll: str | None = None
        self.last_answer: dict[str, Any] | None = None
        self.last_error: str | None = None
        self.next_poll_in: float | None = None
        self.failures = 0

    @property
    def ddi(self) -> DdiClient | None:
        """The server connection while the client runs."""
        return self._ddi

    @property
    def running(self) -> bool:
        """True while the poll loop runs."""
        return self._loop is not None and not self._loop.done()

    async def start(self) -> None:
        """Start polling when the fleet client is enabled."""
        settings = self._settings()
        if not settings.enabled:
            return
        if settings.problems():
            self.last_error = "; ".join(f"{k}: {m}" for k, m in settings.problems().items())
            _LOGGER.error("Fleet client not started: %s", self.last_error)
            return
        self._ddi = DdiClient(settings, await self._controller_id())
        self._deployer.attach(self._ddi, self.poll_now)
        self._loop = asyncio.create_task(self._run(), name="homei-fleet-poll")
        self._watch = asyncio.create_task(self._watch_device(), name="homei-fleet-watch")

    async def stop(self) -> None:
        """Stop polling and any download (an install goes on: it is a task of its own)."""
        for task in (self._loop, self._watch):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._loop = self._watch = None
        await self._deployer.stop()
        if self._ddi is not None:
            await self._ddi.close()
            self._ddi = None

    async def reconfigure(self, _: object = None) -> None:
        """Apply changed `[fleet]` settings at once."""
        await self.stop()
        self.last_error, self.failures = None, 0
        await self.start()

    def poll_now(self) -> None:
        """Poll without waiting for the interval (a local change the server should know)."""
        self._wake.set()

    def device_changed(self) -> None:
        """The device runs something else now: send fresh config data at the next poll."""
        self._config_due = True
        self.poll_now()

    async def report(self) -> DependencyReport:
        """The server as a non-critical dependency in `/health`."""
        if not self.running:
            return DependencyReport(
                "fleet", HealthState.HEALTHY, "Fleet client off", critical=False
            )
        if self.last_error:
            return DependencyReport(
                "fleet",
                HealthState.UNHEALTHY if self.failures >= 3 else HealthState.DEGRADED,
                self.last_error,
                critical=False,
                details={"failures": self.failures},
            )
        return DependencyReport(
            "fleet", HealthState.HEALTHY, f"Last poll {self.last_poll}", critical=False
        )

    async def _watch_device(self) -> None:
        """A local install, a verdict, a rollback or a restore changes what the device runs."""
        subscription = self._events.subscribe(DEVICE_CHANGES)
        try:
            async for _ in subscription:
                self.device_changed()
        finally:
            self._events.unsubscribe(subscription)

    async def _run(self) -> None:
        while True:
            settings = self._settings()
            try:
                sleep = await self.poll_once()
                self.failures, self.last_error = 0, None
            except DdiError as err:
                self.failures += 1
                self.last_error = str(err)
                # Back off: the device keeps working while the server is away.
                sleep = min(settings.poll_min * 2**self.failures, settings.poll_max)
                _LOGGER.warning("Fleet server: %s; next try in %.0fs", err, sleep)
            except Exception as err:  # a bug here must not stop polling for good
                self.failures += 1
                self.last_error = f"{type(err).__name__}: {err}"
                sleep = settings.poll_max
                _LOGGER.exception("Fleet poll failed")
            self.next_poll_in = sleep
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), sleep)

    async def poll_once(self) -> float:
        """One round: feedback owed, poll, config data, cancel, confirmation, deployment;
        the seconds until the next."""
        ddi = self._ddi
        assert ddi is not None
        settings = self._settings()
        await self._deployer.settle()
        answer = await ddi.poll()
        self.last_poll = now_iso()
        self.last_answer = {
            "sleep": answer.config.polling.sleep,
            "links": sorted(answer.links),
        }
        try:
            sleep = parse_sleep(answer.config.polling.sleep)
        except ValueError as err:
            raise DdiError(f"the server's polling sleep is {err}") from None
        sleep = min(max(sleep, settings.poll_min), settings.poll_max)
        self._events.publish(
            "fleet:polled", {"links": sorted(answer.links), "sleep": sleep, "at": self.last_poll}
        )
        await self._follow(ddi, answer)
        return sleep

    async def _follow(self, ddi: DdiClient, answer: PollAnswer) -> None:
        links = answer.links
        if "configData" in links or self._config_due:
            data, complete = await self._device_data()
            await ddi.config_data(data)
            self._config_due = not complete
        if "cancelAction" in links:
            cancel: CancelAction = await ddi.get(links["cancelAction"].href, CancelAction)
            await self._deployer.cancel(cancel.id, cancel.cancel_action.stop_id)
        if "confirmationBase" in links:
            href = links["confirmationBase"].href
            if action_id_of(href) != "confirmationBase":
                confirmation: Confirmation = await ddi.get(href, Confirmation)
                await ask_consent(self.actions, self._events, confirmation)
        if "deploymentBase" in links:
            # gooseBit answers `null` for a deployment it already counts as done: nothing to do.
            base: DeploymentBase | None = await ddi.get(
                links["deploymentBase"].href, DeploymentBase | None
            )
            if base is not None:
                await self._deployer.offer(base)

    async def confirm(self, action_id: str, confirmed: bool, actor: str) -> FleetAction:
        """The owner's answer to a rollout that asks for consent."""
        action = await answer_consent(
            self.actions, self._events, self._ddi, action_id, confirmed, actor
        )
        self.poll_now()
        return action

    async def status(self) -> dict[str, Any]:
        """What `GET /api/v1/fleet` shows besides the settings."""
        recent = await self.actions.recent(10)
        current = next((a for a in recent if a.state not in FINAL), None)
        pending = [a for a in recent if a.state == ActionState.AWAITING_CONFIRMATION]
        return {
            "running": self.running,
            "controller_id": self._ddi.controller_id if self._ddi else None,
            "last_poll": self.last_poll,
            "last_answer": self.last_answer,
            "last_error": self.last_error,
            "next_poll_in": self.next_poll_in,
            "action": current,
            "pending_confirmation": pending,
            "recent": recent,
        }
