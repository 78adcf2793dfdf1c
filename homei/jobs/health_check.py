"""The background health check: every active system is tried at an interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from homei.jobs.ssh import SshExecutor
from homei.jobs.systems import Systems

_LOGGER = logging.getLogger(__name__)

# Systems checked at once: a few hundred peers must not mean a few hundred handshakes.
PARALLEL_CHECKS = 16
FIRST_ROUND_DELAY = 5.0


class HealthChecker:
    """Tries every active system each `interval` seconds and records `health_status`."""

    def __init__(self, systems: Systems, executor: SshExecutor, interval: float) -> None:
        self._systems = systems
        self._executor = executor
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin checking (the first round a few seconds in, after the daemon's start)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="homei-systems-health")

    async def stop(self) -> None:
        """Stop checking; a round in flight is cancelled."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def check_all(self) -> None:
        """One round over every active system."""
        gate = asyncio.Semaphore(PARALLEL_CHECKS)

        async def check(system_id: str) -> None:
            async with gate:
                await self._executor.check_health(system_id)

        results = await asyncio.gather(
            *(check(system_id) for system_id in await self._systems.ids()),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Exception):
                _LOGGER.warning("A system's health check failed: %s", result)

    async def _loop(self) -> None:
        # Not during start-up: the first round imports asyncssh and opens connections.
        await asyncio.sleep(min(self._interval, FIRST_ROUND_DELAY))
        while True:
            try:
                await self.check_all()
            except Exception:
                _LOGGER.exception("Systems health round failed")
            await asyncio.sleep(self._interval)
