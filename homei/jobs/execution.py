"""What a job needs from a system: run one command, stream its output, report how it ended.

Two implementations: SSH for registered systems (`ssh.py`) and the device itself for
the built-in `local` system (`local.py`). The job runner sees only this protocol.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Literal, Protocol

import msgspec

Stream = Literal["stdout", "stderr"]

# Called with each chunk of output as it arrives (decoded UTF-8, errors replaced).
OutputSink = Callable[[Stream, str], Awaitable[None]]


class Outcome(msgspec.Struct, frozen=True):
    """How one command ended on one system."""

    exit_code: int | None  # None when it ended by a signal or never started
    signal: str | None = None
    error: str | None = None  # why it could not run (connection refused, host key, ...)


class ExecutionError(Exception):
    """The command could not run on the system; `code` is an error code of the API."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Executor(Protocol):
    """Runs commands on one kind of system."""

    async def run(
        self,
        system_id: str,
        command: str,
        *,
        env: Mapping[str, str],
        output: OutputSink,
    ) -> Outcome:
        """Run `command` and return how it ended.

        Cancelling the awaiting task stops the command (a signal over the channel, then the
        channel closed) before the cancellation propagates; the caller applies timeouts by
        cancelling. Raises `ExecutionError` when the system cannot be reached.
        """
        ...
