"""The device's figures in 002's shapes: what `/metrics/current`, `/ws/monitoring` and
`/status` answer, each figure with its status against the thresholds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import msgspec

from homei.monitor.readings import Filesystem
from homei.monitor.sampler import DeviceSampler
from homei.monitor.snapshot import Snapshot
from homei.monitor.thresholds import Status, Thresholds, status_of, worst

GB = 1024**3
MB = 1024**2


class CpuFigures(msgspec.Struct, frozen=True):
    usage: float
    status: Status
    temperature: float | None
    cores: list[float]
    load: list[float]


class MemoryFigures(msgspec.Struct, frozen=True):
    """Sizes in GB as in 002, and exact in bytes."""

    usage: float
    status: Status
    total: float
    used: float
    free: float
    total_bytes: int
    available_bytes: int
    swap_usage: float


class DiskFigures(msgspec.Struct, frozen=True):
    """The filesystem of the data directory; sizes in GB as in 002, and exact in bytes."""

    usage: float
    status: Status
    total: float
    used: float
    free: float
    mountpoint: str
    free_bytes: int
    inodes_usage: float


class InterfaceFigures(msgspec.Struct, frozen=True):
    device: str
    rx_bytes: int
    tx_bytes: int
    rx_rate: float  # bytes per second
    tx_rate: float


class NetworkFigures(msgspec.Struct, frozen=True):
    """Speeds in MB/s and totals in MB over every interface but loopback, as in 002."""

    status: Status
    download_speed: float
    upload_speed: float
    total_downloaded: float
    total_uploaded: float
    interfaces: list[InterfaceFigures]


class FilesystemFigures(msgspec.Struct, frozen=True):
    mountpoint: str
    fstype: str
    usage: float
    status: Status
    total_bytes: int
    free_bytes: int
    inodes_usage: float


class DeviceFigures(msgspec.Struct, frozen=True):
    """Every figure of one snapshot; `status` is the worst of cpu, memory and disks."""

    status: Status
    cpu: CpuFigures
    memory: MemoryFigures
    disk: DiskFigures | None
    network: NetworkFigures
    filesystems: list[FilesystemFigures]
    temperatures: dict[str, float]
    gpu_load: float | None
    power: dict[str, float]  # watts per INA3221 rail


class CurrentMetrics(msgspec.Struct, frozen=True):
    timestamp: str
    metrics: DeviceFigures


def _gb(value: float) -> float:
    return round(value / GB, 2)


def data_filesystem(snapshot: Snapshot, path: Path) -> Filesystem | None:
    """The filesystem holding `path`: the mounted one with the longest matching mountpoint."""
    text = str(path)
    best = None
    for fs in snapshot.reading.filesystems:
        prefix = fs.mountpoint.rstrip("/") + "/"
        if (text == fs.mountpoint or text.startswith(prefix)) and (
            best is None or len(fs.mountpoint) > len(best.mountpoint)
        ):
            best = fs
    return best


class Overview:
    """Figures of the sampler's snapshots against the thresholds of the moment."""

    def __init__(
        self, sampler: DeviceSampler, data_dir: Path, thresholds: Callable[[], Thresholds]
    ) -> None:
        self._sampler = sampler
        self._data_dir = data_dir
        self._is_resolved = False
        self._thresholds = thresholds

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    async def snapshot(self) -> Snapshot:
        """The latest snapshot (one is taken if none is fresh)."""
        if not self._is_resolved:  # a relative data directory, made absolute once
            self._data_dir = await asyncio.to_thread(self._data_dir.resolve)
            self._is_resolved = True
        return await self._sampler.current()

    async def current(self) -> DeviceFigures:
        """The figures of the latest snapshot."""
        return self.figures(await self.snapshot())

    def figures(self, snapshot: Snapshot) -> DeviceFigures:
        """One snapshot in 002's shape."""
        levels = self._thresholds()
        gauges = snapshot.gauges()
        reading = snapshot.reading
        temperatures = dict(reading.temperatures)
        cpu = CpuFigures(
            snapshot.cpu,
            status_of(snapshot.cpu, levels.cpu),
            max(temperatures.values(), default=None),
            snapshot.cores,
            list(reading.load),
        )
        total, available = snapshot.memory_total, snapshot.memory_available
        memory = MemoryFigures(
            snapshot.memory_percent,
            status_of(snapshot.memory_percent, levels.memory),
            _gb(total),
            _gb(total - available),
            _gb(available),
            total,
            available,
            snapshot.swap_percent,
        )
        filesystems = [
            FilesystemFigures(
                fs.mountpoint,
                fs.fstype,
                gauges[f"disk:{fs.mountpoint}"],
                status_of(gauges[f"disk:{fs.mountpoint}"], levels.disk),
                fs.total,
                fs.available,
                gauges[f"inodes:{fs.mountpoint}"],
            )
            for fs in reading.filesystems
        ]
        data_fs = data_filesystem(snapshot, self._data_dir)
        disk = None
        if data_fs is not None:
            usage = gauges[f"disk:{data_fs.mountpoint}"]
            disk = DiskFigures(
                usage,
                status_of(usage, levels.disk),
                _gb(data_fs.total),
                _gb(data_fs.total - data_fs.free),
                _gb(data_fs.available),
                data_fs.mountpoint,
                data_fs.available,
                gauges[f"inodes:{data_fs.mountpoint}"],
            )
        interfaces = [
            InterfaceFigures(
                i.device,
                i.rx_bytes,
                i.tx_bytes,
                round(snapshot.rx_rates.get(i.device, 0.0), 1),
                round(snapshot.tx_rates.get(i.device, 0.0), 1),
            )
            for i in reading.interfaces
        ]
        outside = [i for i in interfaces if i.device != "lo"]
        network = NetworkFigures(
            Status.HEALTHY,
            round(sum(i.rx_rate for i in outside) / MB, 3),
            round(sum(i.tx_rate for i in outside) / MB, 3),
            round(sum(i.rx_bytes for i in outside) / MB, 1),
            round(sum(i.tx_bytes for i in outside) / MB, 1),
            interfaces,
        )
        return DeviceFigures(
            worst(cpu.status, memory.status, *(fs.status for fs in filesystems)),
            cpu,
            memory,
            disk,
            network,
            filesystems,
            temperatures,
            reading.gpu_load,
            {rail.name: round(rail.watts, 3) for rail in reading.rails},
        )
