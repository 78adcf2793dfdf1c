"""`/metrics/history` in 002's shape: points per resolution from the history's tiers."""

from __future__ import annotations

import time
from datetime import datetime

import msgspec

from homei.core.clock import from_epoch
from homei.monitor.history import History, Point
from homei.monitor.overview import GB, Overview, data_filesystem

MAX_POINTS = 10_000
TIER_NAMES = {1: "raw", 60: "1m", 300: "5m", 3600: "1h"}


class Stat(msgspec.Struct, frozen=True):
    min: float
    max: float
    avg: float


class CpuPoint(msgspec.Struct, frozen=True):
    usage: float | None
    temperature: float | None = None


class MemoryPoint(msgspec.Struct, frozen=True):
    """Usage in percent; total and used in GB (the total as it is now)."""

    usage: float | None
    total: float | None = None
    used: float | None = None


class DiskPoint(msgspec.Struct, frozen=True):
    """The data directory's filesystem: usage in percent, free in GB."""

    usage: float | None
    free: float | None = None


class HistoryPoint(msgspec.Struct, frozen=True):
    timestamp: str
    cpu: CpuPoint
    memory: MemoryPoint
    disk: DiskPoint
    values: dict[str, Stat]


class MetricsHistory(msgspec.Struct, frozen=True):
    """Points in time order; `tier` names the tier that answered (`raw`, `1m`, `5m`, `1h`)."""

    metrics: list[HistoryPoint]
    resolution: str
    start: str
    end: str
    tier: str


class Timeline:
    """Answers history queries with the names 002's points need plus those asked for."""

    def __init__(self, history: History, overview: Overview) -> None:
        self._history = history
        self._overview = overview

    async def names(self) -> list[str]:
        """Every metric the history keeps."""
        return await self._history.names()

    async def query(
        self, start: datetime, end: datetime, resolution: int, label: str, names: list[str]
    ) -> MetricsHistory:
        """Points between `start` and `end`, one per `resolution` seconds."""
        snapshot = await self._overview.snapshot()
        figures = self._overview.figures(snapshot)
        data_fs = data_filesystem(snapshot, self._overview.data_dir)
        zone = next(iter(figures.temperatures), None)
        cpu_temp = f"temperature:{zone}" if zone else ""
        disk = f"disk:{data_fs.mountpoint}" if data_fs else ""
        disk_free = f"disk_free_bytes:{data_fs.mountpoint}" if data_fs else ""
        base = [n for n in ("cpu", "memory", cpu_temp, disk, disk_free) if n]
        series = await self._history.query(
            start.timestamp(), end.timestamp(), resolution, [*base, *names]
        )
        by_time: dict[int, dict[str, Point]] = {}
        for name, points in series.points.items():
            for point in points:
                by_time.setdefault(point.ts, {})[name] = point
        memory_total = figures.memory.total
        answer = []
        for ts in sorted(by_time):
            at = by_time[ts]
            cpu, memory, temperature = at.get("cpu"), at.get("memory"), at.get(cpu_temp)
            used, free = at.get(disk), at.get(disk_free)
            memory_used = None if memory is None else round(memory_total * memory.mean / 100, 2)
            answer.append(
                HistoryPoint(
                    # Whole seconds, as 002 writes them; strftime is 5x cheaper than isoformat.
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)),
                    CpuPoint(cpu.mean if cpu else None, temperature.mean if temperature else None),
                    MemoryPoint(memory.mean if memory else None, memory_total, memory_used),
                    DiskPoint(
                        used.mean if used else None, round(free.mean / GB, 2) if free else None
                    ),
                    {n: Stat(p.low, p.high, p.mean) for n in names if (p := at.get(n))},
                )
            )
        return MetricsHistory(
            answer,
            label,
            from_epoch(start.timestamp()),
            from_epoch(end.timestamp()),
            TIER_NAMES[series.tier],
        )
