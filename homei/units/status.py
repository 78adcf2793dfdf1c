"""A unit's properties as the service model reads an instance: its state, its CPU percent
between readings, and whether its port answers."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from homei.dbus.systemd_units import UnitProperties
from homei.services.instance import Applied, InstanceState, InstanceStatus


class CpuMeter:
    """A unit's CPU percent from `CPUUsageNSec` between two readings at least `MIN_SPAN`
    apart (status reads and samples both count): systemd keeps only the total."""

    MIN_SPAN = 0.5

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, int, float | None]] = {}

    def forget(self, ref: str) -> None:
        """Drop a removed instance's readings."""
        self._last.pop(ref, None)

    def percent(self, ref: str, nsec: int) -> float | None:
        """The percent since the previous reading (None for the first)."""
        now = time.monotonic()
        seen = self._last.get(ref)
        if seen is not None and now - seen[0] < self.MIN_SPAN:
            return seen[2]  # too close to the last one to measure: its figure stands
        percent = None
        if seen is not None and nsec >= seen[1]:
            percent = round(100.0 * (nsec - seen[1]) / ((now - seen[0]) * 1e9), 2)
        self._last[ref] = (now, nsec, percent)
        return percent


async def answers(port: int) -> bool:
    """Whether something accepts connections on loopback at `port`."""
    try:
        async with asyncio.timeout(1.0):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


def _when(usec: int) -> str | None:
    return datetime.fromtimestamp(usec / 1e6, UTC).isoformat() if usec else None


def instance_state(instance: str, props: UnitProperties, applied: Applied) -> InstanceState:
    active = props.active_state
    running = active in ("active", "reloading", "deactivating")
    restarting = active == "activating"
    if running:
        status = InstanceStatus.RUNNING
    elif restarting:
        status = InstanceStatus.RESTARTING
    elif props.active_enter_usec == 0 and active == "inactive":
        status = InstanceStatus.CREATED
    else:
        status = InstanceStatus.EXITED
    exit_code = props.exec_main_status or (1 if active == "failed" else 0)
    return InstanceState(
        id=instance,
        name=instance,
        status=status,
        running=running,
        restarting=restarting,
        exit_code=exit_code,
        restart_count=props.n_restarts,
        started_at=_when(props.active_enter_usec),
        finished_at=_when(props.inactive_enter_usec) if not running else None,
        address="127.0.0.1",
        applied=applied,
    )
