"""What the health monitor finds: the checks Homei runs itself (an HTTP GET or a TCP connect
to the instance's address, or a command run in it), crash loops, and each service's record."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

import aiohttp
import msgspec

from homei.core.clock import monotonic
from homei.services.instance import HealthStatus, InstanceState, RuntimeFailure
from homei.services.runtime import Runtime
from homei.services.spec import Check, HealthPolicy, ServiceSpec


class ServiceHealth(msgspec.Struct):
    status: HealthStatus = HealthStatus.STOPPED
    last_check: str | None = None
    response_time: float | None = None
    error: str | None = None
    checks: dict[str, str] = msgspec.field(default_factory=dict)
    failures: int = 0
    # (when, restart count) readings of the current instance, for crash-loop detection.
    instance_id: str = ""
    restart_readings: deque[tuple[float, int]] = msgspec.field(default_factory=deque)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "lastCheck": self.last_check,
            "responseTime": self.response_time,
            "error": self.error,
            "failures": self.failures,
            "details": {"checks": dict(self.checks)},
        }


class CheckRunner:
    """Runs one check at a time for the health monitor (one HTTP session for all)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()

    async def run(
        self, spec: ServiceSpec, item: Check, instance: InstanceState
    ) -> tuple[bool, str | None]:
        """Whether the check passed, and why not when it did not."""
        timeout = spec.health.timeout.seconds
        if item.type == "command":
            assert item.command is not None
            try:
                code = await self._runtime.exec(spec.name, item.command, timeout)
            except RuntimeFailure as err:
                return False, err.message
            return code == 0, None if code == 0 else f"command exited with {code}"
        address = instance.address
        if address is None:
            return False, "the container has no address to check"
        try:
            async with asyncio.timeout(timeout):
                if item.type == "tcp":
                    _, writer = await asyncio.open_connection(address, item.port)
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
                    return True, None
                if self._session is None:
                    self._session = aiohttp.ClientSession()
                url = f"http://{address}:{item.port}{item.path}"
                async with self._session.get(url, allow_redirects=False) as response:
                    ok = (
                        response.status == item.expect_status
                        if item.expect_status
                        else response.status < 400
                    )
                    return ok, None if ok else f"HTTP {response.status} from {item.path}"
        except (OSError, TimeoutError, aiohttp.ClientError) as err:
            return False, f"{item.type} check: {type(err).__name__} {err}".strip()


def crash_loop(
    state: ServiceHealth, instance: InstanceState | None, policy: HealthPolicy
) -> str | None:
    """Why the instance is in a crash loop, or None when it is not."""
    if instance is None:
        return None
    if instance.restarting:
        return f"restarting (exited with code {instance.exit_code})"
    readings = state.restart_readings
    if instance.id != state.instance_id:  # a new instance starts a new count
        state.instance_id = instance.id
        readings.clear()
    now = monotonic()
    readings.append((now, instance.restart_count))
    while readings and readings[0][0] < now - policy.restart_window.seconds:
        readings.popleft()
    restarts = instance.restart_count - readings[0][1]
    if restarts > policy.restart_budget:
        return (
            f"restarted {restarts} times within {policy.restart_window}"
            f" (budget {policy.restart_budget})"
        )
    return None
