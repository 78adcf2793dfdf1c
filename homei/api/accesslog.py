"""The access log: one line per request on stderr, with its request id.

Lines are formatted with one f-string on the event loop and written in batches
from a thread, a few times a second: a slow journald never stalls a request,
and a busy API does not pay for a log record and a thread hand-off per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from typing import TextIO


class _Clock:
    """The time as the logging module's default formatter writes it. The date and time of
    day are formatted once a second (`localtime` and `strftime` cost more than the rest of
    a line); only the milliseconds are new on each call."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def asctime(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._text},{int(now % 1 * 1000):03d}"


FLUSH_INTERVAL = 0.2
FLUSH_LINES = 512


class AccessLog:
    """Buffers access-log lines and writes them out in batches."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self._stream = stream or sys.stderr
        self._enabled = (
            logging.getLogger("homei.access").isEnabledFor(logging.INFO)
            if enabled is None
            else enabled
        )
        self._prefix = "<6>" if os.environ.get("JOURNAL_STREAM") else ""
        self._clock = _Clock()
        self._lines: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @property
    def enabled(self) -> bool:
        """False when the `homei.access` logger is off: callers then skip gathering a line."""
        return self._enabled

    def record(
        self, remote: str, method: str, path: str, status: int, elapsed: float, request_id: str
    ) -> None:
        """Queue one request's line."""
        if not self._enabled:
            return
        stamp = "" if self._prefix else f"{self._clock.asctime()} INFO "
        self._lines.append(
            f'{self._prefix}{stamp}homei.access: {remote} "{method} {path}" '
            f"{status} {elapsed * 1000:.1f}ms [{request_id}]\n"
        )
        if len(self._lines) >= FLUSH_LINES:
            self._wake.set()

    def start(self) -> None:
        """Begin writing batches."""
        if self._enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="homei-access-log")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_INTERVAL):
                    await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write what is buffered."""
        if self._lines:
            text, self._lines = "".join(self._lines), []
            await asyncio.to_thread(self._write, text)

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._stream.write(text)
            self._stream.flush()

    async def stop(self) -> None:
        """Write the last lines and stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
