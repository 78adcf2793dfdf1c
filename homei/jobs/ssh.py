"""Commands on registered systems over SSH: the `Executor` for every system but `local`.

A command runs in its own session on the system's shared connection. Linux systems get
`env` as `export` statements before the command; Windows systems (the OpenSSH server's
default shell, `cmd.exe`) as `set "K=V" &&`. Cancelling a run sends TERM over the channel,
then KILL if the command is still there after a short grace, then closes the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shlex
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from homei.core.errors import redact
from homei.jobs.execution import ExecutionError, Outcome, OutputSink, Stream
from homei.jobs.ssh_pool import SshPool
from homei.jobs.systems import System, Systems

_LOGGER = logging.getLogger(__name__)

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
CANCEL_GRACE = 2.0
PROBE_TIMEOUT = 30.0
_READ_SIZE = 65536
_PROBES = {
    "linux": ("whoami", "hostname", "uname -a"),
    "windows": ("whoami", "hostname", "ver"),
}


class SystemInfo(msgspec.Struct, frozen=True):
    """What a connection test learnt about the system."""

    whoami_output: str
    hostname: str
    os_info: str


class TestError(msgspec.Struct, frozen=True):
    """Why a connection test failed."""

    code: str
    message: str


class TestResult(msgspec.Struct, frozen=True, kw_only=True):
    """Seed 004's connection test, with the host key the system presented."""

    success: bool
    response_time_ms: float
    system_info: SystemInfo | None = None
    host_key_fingerprint: str | None = None
    error: TestError | None = None


def with_env(system_type: str, command: str, env: Mapping[str, str]) -> str:
    """`command` prefixed so it runs with `env` in the system's shell."""
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise ExecutionError("VALIDATION_ERROR", f"'{name}' is not an environment name")
        if "\x00" in value or (system_type == "windows" and any(c in value for c in '"\r\n')):
            raise ExecutionError("VALIDATION_ERROR", f"The value of '{name}' cannot be sent")
    if not env:
        return command
    if system_type == "windows":
        return "".join(f'set "{k}={v}" && ' for k, v in env.items()) + command
    return "".join(f"export {k}={shlex.quote(v)}; " for k, v in env.items()) + command


class SshExecutor:
    """Runs commands on registered systems over their pooled SSH connections."""

    def __init__(self, systems: Systems, pool: SshPool) -> None:
        self._systems = systems
        self._pool = pool

    async def _system(self, system_id: str) -> System:
        system = await self._systems.get(system_id)
        if system.is_local:
            raise ExecutionError("SYSTEM_IS_LOCAL", "The local system is not reached over SSH")
        return system

    async def run(
        self,
        system_id: str,
        command: str,
        *,
        env: Mapping[str, str],
        output: OutputSink,
    ) -> Outcome:
        """Run `command` on the system, streaming its output; see `Executor.run`."""
        system = await self._system(system_id)
        if not system.is_active:
            raise ExecutionError("SYSTEM_INACTIVE", f"System '{system.name}' is not active")
        full = with_env(system.system_type, command, env)
        for attempt in (1, 2):
            async with self._pool.session(system, fresh=attempt == 2) as conn:
                try:
                    process = await conn.create_process(full, encoding="utf-8", errors="replace")
                except Exception as err:
                    if attempt == 2:
                        raise ExecutionError(
                            "SSH_UNREACHABLE", f"'{system.name}' closed the session: {err}"
                        ) from None
                    continue
                return await _follow(process, output)
        raise AssertionError("unreachable")

    async def probe(self, system_id: str) -> TestResult:
        """Seed 004's connection test: log in, run whoami/hostname/uname (or ver)."""
        system = await self._system(system_id)
        started = time.monotonic()
        try:
            async with self._pool.session(system, fresh=True) as conn:
                async with asyncio.timeout(PROBE_TIMEOUT):
                    outputs = await asyncio.gather(
                        *(_capture(conn, cmd) for cmd in _PROBES[system.system_type])
                    )
        except ExecutionError as err:
            return await self._failed(system_id, started, TestError(err.code, str(err)))
        except TimeoutError:
            message = f"'{system.name}' did not answer its test within {PROBE_TIMEOUT:g}s"
            return await self._failed(system_id, started, TestError("SSH_TIMEOUT", message))
        except Exception as err:  # asyncssh's own (a channel refused, the connection lost)
            message = f"'{system.name}' failed its test: {redact(str(err)) or type(err).__name__}"
            return await self._failed(system_id, started, TestError("SSH_ERROR", message))
        await self._systems.set_health(system_id, "healthy")
        whoami, hostname, os_info = outputs
        return TestResult(
            success=True,
            response_time_ms=_ms_since(started),
            system_info=SystemInfo(whoami, hostname, os_info),
            host_key_fingerprint=await self._systems.pinned_host_key(system_id),
        )

    async def _failed(self, system_id: str, started: float, error: TestError) -> TestResult:
        await self._systems.set_health(system_id, "unhealthy")
        return TestResult(
            success=False,
            response_time_ms=_ms_since(started),
            host_key_fingerprint=await self._systems.pinned_host_key(system_id),
            error=error,
        )

    async def check_health(self, system_id: str) -> bool:
        """Whether the system answers a trivial command now; its health is recorded."""
        system = await self._system(system_id)
        try:
            async with self._pool.session(system) as conn:
                async with asyncio.timeout(30):
                    result = await conn.run("echo homei", check=False)
            healthy = bool(result.exit_status == 0)
        except (ExecutionError, TimeoutError, OSError) as err:
            _LOGGER.debug("Health check of %s failed: %s", system.name, err)
            healthy = False
        except Exception as err:
            _LOGGER.debug("Health check of %s failed: %s", system.name, err)
            healthy = False
        await self._systems.set_health(system_id, "healthy" if healthy else "unhealthy")
        return healthy


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


async def _capture(conn: Any, command: str) -> str:
    result = await conn.run(command, check=False, encoding="utf-8", errors="replace")
    return str(result.stdout or "").strip()


async def _pump(reader: Any, stream: Stream, output: OutputSink) -> None:
    while chunk := await reader.read(_READ_SIZE):
        await output(stream, chunk)


async def _follow(process: Any, output: OutputSink) -> Outcome:
    """Stream a started process's output until it ends; stop it if cancelled."""
    process.stdin.write_eof()
    try:
        await asyncio.gather(
            _pump(process.stdout, "stdout", output), _pump(process.stderr, "stderr", output)
        )
        await process.wait_closed()
    except asyncio.CancelledError:
        await asyncio.shield(_stop(process))
        raise
    return Outcome(
        exit_code=process.exit_status if process.exit_signal is None else None,
        signal=process.exit_signal[0] if process.exit_signal else None,
    )


async def _stop(process: Any) -> None:
    """TERM over the channel, KILL after a grace, then close the channel."""
    for signal in ("TERM", "KILL"):
        with contextlib.suppress(Exception):
            process.send_signal(signal)
        with contextlib.suppress(TimeoutError, Exception):
            async with asyncio.timeout(CANCEL_GRACE):
                await process.wait_closed()
            return
    process.close()
    with contextlib.suppress(Exception):
        await process.wait_closed()
