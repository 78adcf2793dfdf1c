"""`homei serve`: run the API until SIGTERM, speaking systemd's notify protocol."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import queue
import signal
import sys

from aiohttp import web

import homei
from homei.api.server import ConnectionLimits, HomeiRunner
from homei.app import build
from homei.config.keys import DeviceKeyError
from homei.core.auth import preload
from homei.core.memory import return_large_blocks, settle_collection
from homei.core.watchdog import Notifier
from homei.settings import Settings

_LOGGER = logging.getLogger(__name__)

_PRIORITIES = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


class _JournalFormatter(logging.Formatter):
    """journald adds the time and unit; a `<N>` prefix carries the priority."""

    def format(self, record: logging.LogRecord) -> str:
        return f"<{_PRIORITIES.get(record.levelname, 6)}>{super().format(record)}"


class _DeferredQueueHandler(logging.handlers.QueueHandler):
    """Hands records to the writer thread unformatted: formatting and the write to
    stderr (which blocks when journald is slow) both happen off the event loop."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        return record


def configure_logging(level: str) -> logging.handlers.QueueListener:
    """One line per record on stderr, which journald collects on the device; returns the
    listener thread writing them, to be stopped last."""
    output = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        output.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        output.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(records, output)
    listener.start()
    root = logging.getLogger()
    root.handlers[:] = [_DeferredQueueHandler(records)]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return listener


async def serve(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT, then stop gracefully."""
    return_large_blocks()
    notifier = Notifier()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    notifier.status("Starting")
    try:
        app, components = await build(settings, notifier)
    except DeviceKeyError as err:
        raise SystemExit(f"homei: {err}") from None
    limits = ConnectionLimits(
        settings.api.header_timeout,
        settings.api.body_stall_timeout,
        settings.api.idle_timeout,
        settings.api.max_connections_per_client,
    )
    runner = HomeiRunner(
        app, limits, access_log=None, shutdown_timeout=settings.api.shutdown_timeout
    )
    await runner.setup()
    site = web.TCPSite(
        runner, settings.host, settings.port, shutdown_timeout=settings.api.shutdown_timeout
    )
    try:
        await site.start()
    except OSError as err:
        await runner.cleanup()
        raise SystemExit(f"homei: cannot listen on {settings.api.listen}: {err.strerror}") from None

    url = f"http://{settings.api.listen}"
    _LOGGER.info(
        "Homei %s (%s) serving %s, data in %s",
        homei.__version__,
        settings.mode,
        url,
        settings.data_dir,
    )
    notifier.ready(f"Serving {url}")
    if await asyncio.to_thread(settings.initial_password_file.exists):
        _LOGGER.info("The initial admin password is in %s", settings.initial_password_file)
    await asyncio.to_thread(preload)
    settle_collection()

    await stop.wait()
    _LOGGER.info("Stopping")
    notifier.stopping()
    await runner.cleanup()
    notifier.close()
    _LOGGER.info("Stopped; %d event(s) published", components.events.published)
