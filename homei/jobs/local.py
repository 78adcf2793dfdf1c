"""The device itself as a system: commands run by `/bin/sh -c` in a process group of their own."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import os
import signal
from collections.abc import Mapping

from homei.jobs.execution import Outcome, OutputSink, Stream

_LOGGER = logging.getLogger(__name__)

READ_SIZE = 64 * 1024


class LocalExecutor:
    """Runs commands on the device; cancelling stops the whole process group."""

    def __init__(self, kill_grace: float = 5.0) -> None:
        self._kill_grace = kill_grace

    async def run(
        self, system_id: str, command: str, *, env: Mapping[str, str], output: OutputSink
    ) -> Outcome:
        """Run `command` with `env` added to Homei's environment."""
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **env},
            start_new_session=True,  # its own process group, so a cancel reaches its children
        )
        assert process.stdout is not None and process.stderr is not None
        try:
            await asyncio.gather(
                _pump(process.stdout, "stdout", output), _pump(process.stderr, "stderr", output)
            )
            code = await process.wait()
        except BaseException:
            await asyncio.shield(self._stop(process))
            raise
        if code < 0:
            return Outcome(None, signal=signal.Signals(-code).name)
        return Outcome(code)

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """SIGTERM to the group, then SIGKILL to what is left of it after the grace period."""
        _signal_group(process.pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(self._kill_grace):
                await process.wait()
        except TimeoutError:
            _LOGGER.info("Command %d outlived SIGTERM; killing its group", process.pid)
        # Children that ignored SIGTERM (or outlived the shell) go too.
        _signal_group(process.pid, signal.SIGKILL)
        await process.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _pump(reader: asyncio.StreamReader, stream: Stream, output: OutputSink) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while chunk := await reader.read(READ_SIZE):
        if text := decoder.decode(chunk):
            await output(stream, text)
    if tail := decoder.decode(b"", final=True):
        await output(stream, tail)
