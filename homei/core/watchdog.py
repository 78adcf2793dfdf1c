"""systemd's notify protocol and the software watchdog.

`WATCHDOG=1` is sent only while the daemon is healthy: the event loop answers in
time and every registered check passes. A wedged daemon stops petting, and
systemd kills and restarts it after `WatchdogSec`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping

from homei.core.clock import monotonic

_LOGGER = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[None]]


class Notifier:
    """Sends `sd_notify` messages to `$NOTIFY_SOCKET`; does nothing outside systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self._address = address or None
        self._ready_sent = asyncio.Event()
        self._sock: socket.socket | None = None
        if self._address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.setblocking(False)

    @property
    def is_enabled(self) -> bool:
        """True when started by systemd with a notify socket."""
        return self._sock is not None

    def notify(self, *fields: str) -> None:
        """Send `KEY=value` lines; a full or missing socket is logged, never raised."""
        if self._sock is None or self._address is None:
            return
        try:
            self._sock.sendto("\n".join(fields).encode(), self._address)
        except OSError as err:
            _LOGGER.debug("sd_notify failed: %s", err)

    def ready(self, status: str) -> None:
        """`READY=1` with a status line."""
        self.notify("READY=1", f"STATUS={status}")
        self._ready_sent.set()

    async def wait_ready_sent(self) -> None:
        """Until `READY=1` has gone out; at once when there is no systemd to tell."""
        if self.is_enabled:
            await self._ready_sent.wait()

    def status(self, status: str) -> None:
        """A `STATUS=` line for `systemctl status`."""
        self.notify(f"STATUS={status}")

    def stopping(self, status: str = "Stopping") -> None:
        """`STOPPING=1`."""
        self.notify("STOPPING=1", f"STATUS={status}")

    def close(self) -> None:
        """Release the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between pets (half of `WATCHDOG_USEC`), or None when no watchdog is set
    for this process."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(0.05, int(usec) / 2_000_000)
    except ValueError:
        return None


class LoopMonitor:
    """Measures event-loop lag: how late a short sleep wakes up."""

    def __init__(self, interval: float = 0.5) -> None:
        self._interval = interval
        self.lag = 0.0
        self.max_lag = 0.0
        self._peak = 0.0  # the worst lag since `take_peak` last asked
        self._last_beat = monotonic()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin measuring."""
        self._task = asyncio.create_task(self._run(), name="homei-loop-monitor")

    async def _run(self) -> None:
        while True:
            before = monotonic()
            await asyncio.sleep(self._interval)
            self._last_beat = monotonic()
            self.lag = max(0.0, self._last_beat - before - self._interval)
            self.max_lag = max(self.max_lag, self.lag)
            self._peak = max(self._peak, self.lag)

    def take_peak(self) -> float:
        """The worst lag since the last call, then start over."""
        peak, self._peak = self._peak, 0.0
        return peak

    def stalled_for(self) -> float:
        """Seconds since the monitor last woke; large when the loop is blocked."""
        return monotonic() - self._last_beat

    async def stop(self) -> None:
        """Stop measuring."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Watchdog:
    """Pets systemd's watchdog while the loop is responsive and every check passes."""

    def __init__(
        self,
        notifier: Notifier,
        interval: float | None,
        loop_monitor: LoopMonitor,
        *,
        max_lag: float = 2.0,
        check_timeout: float = 2.0,
    ) -> None:
        self._notifier = notifier
        self._interval = interval
        self._loop_monitor = loop_monitor
        self._max_lag = max_lag
        self._check_timeout = check_timeout
        self._checks: dict[str, HealthCheck] = {}
        self._task: asyncio.Task[None] | None = None
        self.last_failure: str | None = None

    def add_check(self, name: str, check: HealthCheck) -> None:
        """A coroutine that raises when the daemon should not be considered alive."""
        self._checks[name] = check

    @property
    def is_enabled(self) -> bool:
        """True when systemd asked for a watchdog."""
        return self._interval is not None and self._notifier.is_enabled

    def start(self) -> None:
        """Begin petting, if systemd asked for it."""
        if self.is_enabled:
            _LOGGER.info("systemd watchdog enabled; petting every %.1fs", self._interval)
            self._task = asyncio.create_task(self._run(), name="homei-watchdog")

    async def healthy(self, late: float = 0.0) -> bool:
        """Run every check once; True when all pass and the loop has not lagged since the last
        call (`late`: how late the caller itself woke, the freshest measure of lag there is)."""
        # The peak, not the last beat: a loop that stalls now and then and answers in
        # between is lagging, even if a pet falls into one of its good moments.
        monitor = self._loop_monitor
        stalled = max(monitor.take_peak(), monitor.stalled_for() - 1.0, late)
        if stalled > self._max_lag:
            self.last_failure = f"event loop lag {stalled:.1f}s"
            return False
        for name, check in self._checks.items():
            try:
                async with asyncio.timeout(self._check_timeout):
                    await check()
            except Exception as err:  # any failure withholds the pet
                self.last_failure = f"{name}: {err or type(err).__name__}"
                return False
        self.last_failure = None
        return True

    async def _run(self) -> None:
        assert self._interval is not None
        late = 0.0
        while True:
            was_failing = self.last_failure is not None
            if await self.healthy(late):
                self._notifier.notify("WATCHDOG=1")
                if was_failing:
                    _LOGGER.warning("Petting the watchdog again")
            else:
                _LOGGER.error("Withholding the watchdog: %s", self.last_failure)
                self._notifier.status(f"Unhealthy: {self.last_failure}")
            # The loop monitor beats every half second; this wake-up's own delay tells of a
            # lagging loop sooner, before a pet could slip out between two of its beats.
            before = monotonic()
            await asyncio.sleep(self._interval)
            late = max(0.0, monotonic() - before - self._interval)

    async def stop(self) -> None:
        """Stop petting (on shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
