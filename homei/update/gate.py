"""The boot health gate: after a boot into a freshly installed slot, prove the device
works before keeping it.

Homei checks itself for a window: its API answers `/health/ready` over loopback,
which holds only while every critical dependency is healthy (the database now;
Docker and the services marked critical as they arrive). Enough passes in a row
mark the booted slot good. A window without them marks it bad and reboots through
logind, so the bootloader falls back to the slot that worked. A device that never
reaches a verdict is left to the bootloader's own attempt counter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum

import aiohttp
import msgspec

from homei.core.events import EventBus
from homei.update.history import HistoryEntry, UpdateResult
from homei.update.manager import UpdateManager
from homei.update.status import UpdateError

_LOGGER = logging.getLogger(__name__)

Reboot = Callable[[], Awaitable[None]]


class GateVerdict(StrEnum):
    GOOD = "good"
    BAD = "bad"
    ROLLED_BACK = "rolled_back"


class GateSettings(msgspec.Struct, frozen=True):
    window: float = 120.0
    interval: float = 5.0
    passes: int = 3
    rauc_wait: float = 60.0


class HealthGate:
    """Decides whether the slot the device booted from may stay."""

    def __init__(
        self,
        updates: UpdateManager,
        events: EventBus,
        probe_url: str,
        reboot: Reboot,
        settings: GateSettings,
    ) -> None:
        self._updates = updates
        self._events = events
        self._probe_url = probe_url
        self._reboot = reboot
        self._settings = settings
        self._task: asyncio.Task[GateVerdict | None] | None = None
        self.verdict: GateVerdict | None = None

    @property
    def state(self) -> str:
        """`checking` until the gate has run, then its verdict: `good`, `bad`, `rolled_back`,
        `none` (no install waited for this boot) or `error` (the gate itself failed)."""
        task = self._task
        if task is None or not task.done():
            return "checking"
        if task.cancelled() or task.exception() is not None:
            return "error"
        return str(self.verdict) if self.verdict is not None else "none"

    def start(self) -> None:
        """Run the gate in the background once the API serves."""
        self._task = asyncio.create_task(self.run(), name="homei-health-gate")

    async def wait(self) -> GateVerdict | None:
        """The verdict, once the gate has run."""
        return await self._task if self._task is not None else None

    async def stop(self) -> None:
        """Abandon the gate (on shutdown); the bootloader's counter still protects the device."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def run(self) -> GateVerdict | None:
        """Judge the current boot if an install is waiting for one; None otherwise."""
        pending = await self._updates.history.awaiting_boot()
        if pending is None:
            return None
        rauc = None
        try:
            async with asyncio.timeout(self._settings.rauc_wait):
                while rauc is None:
                    try:
                        rauc = self._updates.rauc
                    except UpdateError:
                        await asyncio.sleep(0.5)
        except TimeoutError:
            _LOGGER.error(
                "RAUC did not come up within %.0fs; leaving the verdict to the "
                "bootloader's attempt counter",
                self._settings.rauc_wait,
            )
            return None
        booted = rauc.boot_slot
        if pending.to_slot and booted != pending.to_slot:
            return await self._rolled_back(pending, booted)
        return await self._judge(pending, booted)

    async def _rolled_back(self, pending: HistoryEntry, booted: str) -> GateVerdict:
        message = (
            f"Booted from {booted}, not {pending.to_slot}: the bootloader fell back "
            "before Homei could confirm the new slot"
        )
        _LOGGER.warning("%s", message)
        await self._updates.history.verdict(pending.id, UpdateResult.ROLLED_BACK, message)
        self._events.publish(
            "update:rolled_back",
            {
                "bundle": pending.bundle,
                "slot": pending.to_slot,
                "booted": booted,
                "message": message,
            },
        )
        self.verdict = GateVerdict.ROLLED_BACK
        return self.verdict

    async def _judge(self, pending: HistoryEntry, booted: str) -> GateVerdict:
        settings = self._settings
        self._events.publish("update:verifying", {"slot": booted, "window": settings.window})
        _LOGGER.info("Boot health gate: checking slot %s for up to %.0fs", booted, settings.window)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.window
        passes, last_problem = 0, "no check ran"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            while loop.time() < deadline:
                problem = await self._probe(session)
                if problem is None:
                    passes += 1
                    if passes >= settings.passes:
                        return await self._good(pending, booted)
                else:
                    passes, last_problem = 0, problem
                await asyncio.sleep(settings.interval)
        return await self._bad(pending, booted, last_problem)

    async def _probe(self, session: aiohttp.ClientSession) -> str | None:
        try:
            async with session.get(self._probe_url) as response:
                if response.status == 200:
                    return None
                body = await response.json(content_type=None)
                return str(body.get("error", {}).get("message", f"HTTP {response.status}"))
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            return f"API did not answer: {err or type(err).__name__}"

    async def _good(self, pending: HistoryEntry, booted: str) -> GateVerdict:
        slot, message = await self._updates.mark("good", "booted")
        text = f"Slot {booted} passed the health gate; marked good ({message})"
        _LOGGER.info("%s", text)
        await self._updates.history.verdict(pending.id, UpdateResult.GOOD, text)
        self._events.publish(
            "update:verified", {"slot": booted, "rauc_slot": slot, "bundle": pending.bundle}
        )
        self.verdict = GateVerdict.GOOD
        return self.verdict

    async def _bad(self, pending: HistoryEntry, booted: str, problem: str) -> GateVerdict:
        text = f"Slot {booted} failed the health gate: {problem}; marked bad, rebooting"
        _LOGGER.error("%s", text)
        await self._updates.mark("bad", "booted")
        await self._updates.history.verdict(pending.id, UpdateResult.BAD, text)
        self._events.publish(
            "update:rejected", {"slot": booted, "bundle": pending.bundle, "reason": problem}
        )
        self.verdict = GateVerdict.BAD
        try:
            await self._reboot()
        except Exception:  # the bootloader's counter still brings the device back
            _LOGGER.exception("Reboot request failed")
        return self.verdict
