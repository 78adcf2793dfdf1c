"""A snapshot of the device: one reading, with the rates from the reading before it."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from homei.monitor.readings import CPU_MODES, Reading

_IDLE = (CPU_MODES.index("idle"), CPU_MODES.index("iowait"))


def _busy_percent(now: tuple[float, ...], before: tuple[float, ...] | None) -> float:
    if before is None:
        return 0.0
    total = sum(now) - sum(before)
    idle = sum(now[i] - before[i] for i in _IDLE if i < len(now))
    return round(max(0.0, min(100.0, (total - idle) / total * 100)), 2) if total > 0 else 0.0


def _percent(part: float, whole: float) -> float:
    return round(part / whole * 100, 2) if whole > 0 else 0.0


class Snapshot(msgspec.Struct, frozen=True):
    """The device's figures at `reading.ts`; rates per second since the previous reading."""

    reading: Reading
    cpu: float  # percent busy, all cores
    cores: list[float]
    rx_rates: dict[str, float]  # bytes per second, per interface
    tx_rates: dict[str, float]

    @classmethod
    def of(cls, reading: Reading, previous: Reading | None) -> Snapshot:
        """The snapshot of `reading`, its rates measured against `previous`."""
        before = previous.cpu_times if previous else {}
        total_now = _sum_columns(reading.cpu_times.values())
        total_before = _sum_columns(before.values()) if before else None
        elapsed = reading.ts - previous.ts if previous else 0.0
        old = {i.device: i for i in previous.interfaces} if previous else {}
        rx: dict[str, float] = {}
        tx: dict[str, float] = {}
        for interface in reading.interfaces:
            prior = old.get(interface.device)
            if prior is not None and elapsed > 0:
                rx[interface.device] = max(0.0, (interface.rx_bytes - prior.rx_bytes) / elapsed)
                tx[interface.device] = max(0.0, (interface.tx_bytes - prior.tx_bytes) / elapsed)
        return cls(
            reading,
            _busy_percent(total_now, total_before),
            [_busy_percent(times, before.get(cpu)) for cpu, times in reading.cpu_times.items()],
            rx,
            tx,
        )

    @property
    def memory_total(self) -> int:
        return self.reading.memory.get("MemTotal", 0)

    @property
    def memory_available(self) -> int:
        return self.reading.memory.get("MemAvailable", self.reading.memory.get("MemFree", 0))

    @property
    def memory_percent(self) -> float:
        return _percent(self.memory_total - self.memory_available, self.memory_total)

    @property
    def swap_percent(self) -> float:
        total = self.reading.memory.get("SwapTotal", 0)
        return _percent(total - self.reading.memory.get("SwapFree", 0), total)

    def gauges(self) -> dict[str, float]:
        """The levels alert rules watch: percentages 0-100, temperatures in C, free bytes."""
        figures = {
            "cpu": self.cpu,
            "memory": self.memory_percent,
            "swap": self.swap_percent,
            "load1": self.reading.load[0],
        }
        for fs in self.reading.filesystems:
            used = fs.total - fs.free
            # As df: used against what non-root users may fill.
            figures[f"disk:{fs.mountpoint}"] = _percent(used, used + fs.available)
            figures[f"inodes:{fs.mountpoint}"] = _percent(fs.files - fs.files_free, fs.files)
            figures[f"disk_free_bytes:{fs.mountpoint}"] = float(fs.available)
        for zone, celsius in self.reading.temperatures.items():
            figures[f"temperature:{zone}"] = celsius
        return figures

    def series(self) -> dict[str, float]:
        """Every figure the history keeps: the gauges, network rates, GPU load, power rails."""
        figures = self.gauges()
        for device, rate in self.rx_rates.items():
            figures[f"net_rx:{device}"] = round(rate, 1)
            figures[f"net_tx:{device}"] = round(self.tx_rates[device], 1)
        if self.reading.gpu_load is not None:
            figures["gpu"] = self.reading.gpu_load
        for rail in self.reading.rails:
            figures[f"power:{rail.name}"] = round(rail.watts, 3)
        return figures


def _sum_columns(rows: Iterable[tuple[float, ...]]) -> tuple[float, ...]:
    columns: list[float] = []
    for row in rows:
        for i, value in enumerate(row):
            if i < len(columns):
                columns[i] += value
            else:
                columns.append(value)
    return tuple(columns)
