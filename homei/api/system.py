"""`/api/v1/system/info` and `/api/v1/status`: what the device is and how Homei runs on it."""

from __future__ import annotations

from pathlib import Path

import msgspec
from aiohttp import web

import homei
from homei.api.routing import endpoint
from homei.core.auth import Permission
from homei.core.clock import from_epoch, now_iso
from homei.core.events import EventBus
from homei.core.health import Health
from homei.core.tasks import TaskManager
from homei.monitor.overview import Overview
from homei.monitor.system import read_system
from homei.monitor.thresholds import Status


class MemoryInfo(msgspec.Struct):
    total: int
    available: int
    percent: float


class DiskInfo(msgspec.Struct):
    path: str
    total: int
    used: int
    free: int
    percent: float


class SystemInfo(msgspec.Struct):
    hostname: str
    platform: str
    architecture: str
    kernel: str
    cpu_count: int
    cpu_percent: float
    memory: MemoryInfo
    disk: DiskInfo
    uptime: int
    boot_time: int
    load_average: list[float]


class DaemonStatus(msgspec.Struct):
    """001's daemon status and 002's system status in one: `uptime` is 002's human text
    (`10d 4h 30m`) beside `uptime_seconds`; usages are percentages."""

    version: str
    status: str
    mode: str
    timestamp: str
    started: str
    uptime: str
    uptime_seconds: float
    ready: bool
    tasksRunning: int
    eventSubscribers: int
    cpu_usage: float
    memory_usage: float
    disk_usage: float | None
    resources: Status


def human_duration(seconds: float) -> str:
    """`10d 4h 30m` (and `42s` under a minute)."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    parts = [(days, "d"), (hours, "h"), (rest // 60, "m")]
    return " ".join(f"{n}{unit}" for n, unit in parts if n) or "0m"


class SystemApi:
    """The machine and the daemon at a glance."""

    def __init__(
        self,
        data_dir: Path,
        mode: str,
        health: Health,
        tasks: TaskManager,
        events: EventBus,
        overview: Overview,
    ) -> None:
        self._data_dir = data_dir
        self._mode = mode
        self._health = health
        self._tasks = tasks
        self._events = events
        self._overview = overview

    @endpoint(
        "GET",
        "/api/v1/system/info",
        summary="System information",
        tag="system",
        permission=Permission.READ,
        response=SystemInfo,
    )
    async def info(self, request: web.Request) -> SystemInfo:
        """Host name, architecture, CPU, memory, disk of the data partition, uptime and load."""
        return msgspec.convert(await read_system(self._data_dir), SystemInfo)

    @endpoint(
        "GET",
        "/api/v1/status",
        summary="Daemon status",
        tag="system",
        permission=Permission.READ,
        response=DaemonStatus,
    )
    async def status(self, request: web.Request) -> DaemonStatus:
        """Version, health verdict, uptime, the work in progress and the device's usage."""
        verdict = Health.verdict(await self._health.check())
        figures = await self._overview.current()
        uptime = self._health.uptime
        return DaemonStatus(
            homei.__version__,
            str(verdict),
            self._mode,
            now_iso(),
            from_epoch(self._health.started_at),
            human_duration(uptime),
            round(uptime, 3),
            self._health.is_ready,
            self._tasks.running_count,
            self._events.subscriber_count,
            figures.cpu.usage,
            figures.memory.usage,
            figures.disk.usage if figures.disk else None,
            figures.status,
        )
