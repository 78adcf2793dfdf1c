"""The device's figures for Prometheus, under node_exporter's names where one exists, and the
services' and containers' counts that seeds 000 and 001 name."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from homei.core.lazy import load
from homei.monitor.readings import CPU_MODES
from homei.monitor.sampler import DeviceSampler

_LOGGER = logging.getLogger(__name__)


class DeviceCollector:
    """node_* families from the sampler's latest snapshot (one is taken if sampling is off)."""

    def __init__(self, sampler: DeviceSampler) -> None:
        self._sampler = sampler

    async def refresh(self) -> None:
        """A fresh snapshot when the sampler does not keep one."""
        await self._sampler.current()

    def collect(self) -> Iterator[Any]:
        """The families of one scrape."""
        snapshot = self._sampler.latest
        if snapshot is None:
            return
        core = load("prometheus_client.metrics_core")
        reading = snapshot.reading
        cpu = core.CounterMetricFamily(
            "node_cpu_seconds_total", "Seconds the CPUs spent in each mode", labels=("cpu", "mode")
        )
        for name, times in reading.cpu_times.items():
            for mode, seconds in zip(CPU_MODES, times, strict=False):
                cpu.add_metric((name.removeprefix("cpu"), mode), seconds)
        yield cpu
        for key in ("MemTotal", "MemAvailable", "MemFree", "SwapTotal", "SwapFree"):
            if key in reading.memory:
                yield core.GaugeMetricFamily(
                    f"node_memory_{key}_bytes",
                    f"Memory information field {key}_bytes.",
                    value=reading.memory[key],
                )
        for suffix, value in (("1", 0), ("5", 1), ("15", 2)):
            yield core.GaugeMetricFamily(
                f"node_load{suffix}", f"{suffix}m load average.", value=reading.load[value]
            )
        labels = ("device", "fstype", "mountpoint")
        families = {
            "avail_bytes": ("Filesystem space available to non-root users in bytes.", "available"),
            "size_bytes": ("Filesystem size in bytes.", "total"),
            "free_bytes": ("Filesystem free space in bytes.", "free"),
            "files": ("Filesystem total file nodes.", "files"),
            "files_free": ("Filesystem total free file nodes.", "files_free"),
        }
        for suffix, (text, field) in families.items():
            family = core.GaugeMetricFamily(f"node_filesystem_{suffix}", text, labels=labels)
            for fs in reading.filesystems:
                family.add_metric((fs.device, fs.fstype, fs.mountpoint), getattr(fs, field))
            yield family
        for direction, field in (("receive", "rx_bytes"), ("transmit", "tx_bytes")):
            family = core.CounterMetricFamily(
                f"node_network_{direction}_bytes_total",
                f"Network device statistic {direction}_bytes.",
                labels=("device",),
            )
            for interface in reading.interfaces:
                family.add_metric((interface.device,), getattr(interface, field))
            yield family
        thermal = core.GaugeMetricFamily(
            "node_thermal_zone_temp", "Zone temperature in Celsius", labels=("zone",)
        )
        for zone, celsius in reading.temperatures.items():
            thermal.add_metric((zone,), celsius)
        yield thermal
        if reading.gpu_load is not None:
            yield core.GaugeMetricFamily(
                "homei_gpu_load_percent", "GPU load in percent", value=reading.gpu_load
            )
        power = core.GaugeMetricFamily(
            "homei_power_rail_watts", "Power drawn per INA3221 rail", labels=("rail",)
        )
        for rail in reading.rails:
            power.add_metric((rail.name,), rail.watts)
        yield power


class CountsCollector:
    """`service_health_status{service}` (1 healthy, 0 not) and `homei_containers_total{status}`."""

    def __init__(
        self,
        service_health: Callable[[], list[dict[str, Any]]],
        list_containers: Callable[[], Awaitable[list[Any]]],
    ) -> None:
        self._service_health = service_health
        self._list_containers = list_containers
        self._containers: Counter[str] = Counter()

    async def refresh(self) -> None:
        """Count the containers by status (none while Docker does not answer)."""
        try:
            rows = await self._list_containers()
        except Exception as err:  # Docker down: the scrape still answers, without the counts
            _LOGGER.debug("No container counts for this scrape: %s", err)
            self._containers = Counter()
            return
        self._containers = Counter(row.status for row in rows)

    def collect(self) -> Iterator[Any]:
        """The families of one scrape."""
        core = load("prometheus_client.metrics_core")
        health = core.GaugeMetricFamily(
            "service_health_status", "Service health status", labels=("service",)
        )
        for row in self._service_health():
            health.add_metric((row["name"],), 1 if row.get("status") == "healthy" else 0)
        yield health
        containers = core.GaugeMetricFamily(
            "homei_containers_total", "Total number of containers", labels=("status",)
        )
        for status in sorted({"running", "exited", *self._containers}):
            containers.add_metric((status,), self._containers.get(status, 0))
        yield containers
