"""Resource samples of every running service, kept in SQLite for `/services/{name}/metrics`.

One cheap reading per container per interval (`one-shot` stats: no second-long wait);
the CPU percent comes from two consecutive readings, as `docker stats` computes it.
Samples older than the retention are pruned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from homei.core.clock import from_epoch
from homei.core.store import Store
from homei.services.instance import RuntimeFailure
from homei.services.runtime import Runtime
from homei.services.store import ServiceStore

_LOGGER = logging.getLogger(__name__)

PERIODS = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400}
RESOLUTIONS = {"1m": 60, "5m": 300, "1h": 3600}


class ServiceSampler:
    """Samples the services' containers and answers their metrics (000's shape)."""

    def __init__(
        self,
        store: Store,
        services: ServiceStore,
        runtime: Runtime,
        *,
        interval: float = 30.0,
        retention: float = 7 * 86400,
    ) -> None:
        self._store = store
        self._services = services
        self._runtime = runtime
        self.interval = interval
        self._retention = retention
        self._previous: dict[str, tuple[int, int]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="homei-service-samples")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                await self.sample_all()
            except RuntimeFailure as err:
                _LOGGER.debug("No samples this round: %s", err.message)
            except Exception:
                _LOGGER.exception("Sampling services failed")
            await asyncio.sleep(self.interval)

    async def sample_all(self) -> int:
        """Take one sample of every running service; how many were taken."""
        names = sorted(self._services.all())
        readings = await asyncio.gather(*(self._read(n) for n in names), return_exceptions=True)
        rows = [r for r in readings if isinstance(r, tuple)]
        if not rows:
            return 0
        now = time.time()
        statements: list[tuple[str, Any]] = [
            (
                "INSERT INTO service_samples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row[:1], now, *row[1:]),
            )
            for row in rows
        ]
        statements.append(("DELETE FROM service_samples WHERE ts < ?", (now - self._retention,)))
        await self._store.transaction(statements)
        return len(rows)

    async def _read(self, name: str) -> tuple[Any, ...] | None:
        instance = await self._runtime.inspect(name)
        if instance is None or not instance.running:
            self._previous.pop(name, None)
            return None
        usage = await self._runtime.usage(name)
        cpu = 0.0
        previous = self._previous.get(name)
        if previous and usage.system_total > previous[1] and usage.cpu_total >= previous[0]:
            cpu_delta = usage.cpu_total - previous[0]
            cpu = cpu_delta / (usage.system_total - previous[1]) * usage.online_cpus * 100.0
        self._previous[name] = (usage.cpu_total, usage.system_total)
        return (
            name,
            round(cpu, 3),
            usage.memory,
            usage.memory_limit,
            usage.rx_bytes,
            usage.tx_bytes,
            usage.read_bytes,
            usage.write_bytes,
        )

    async def metrics(self, name: str, period: str, resolution: str) -> dict[str, Any]:
        """000's metrics shape: current, average, max and a series per resource."""
        since = time.time() - PERIODS[period]
        step = RESOLUTIONS[resolution]
        rows = await self._store.fetch_all(
            "SELECT CAST(ts / ? AS INTEGER) * ? AS bucket, AVG(cpu) AS cpu, MAX(cpu) AS cpu_max,"
            " AVG(memory) AS memory, MAX(memory) AS memory_max, MAX(memory_limit) AS memory_limit,"
            " MAX(rx_bytes) AS rx, MAX(tx_bytes) AS tx, MAX(read_bytes) AS rd,"
            " MAX(write_bytes) AS wr FROM service_samples WHERE service = ? AND ts >= ?"
            " GROUP BY bucket ORDER BY bucket",
            (step, step, name, since),
        )
        last = rows[-1] if rows else None

        def series(column: str) -> list[dict[str, Any]]:
            return [{"timestamp": from_epoch(r["bucket"]), "value": r[column]} for r in rows]

        def stat(column: str, top: str) -> dict[str, Any]:
            values = [r[column] for r in rows]
            return {
                "current": last[column] if last else None,
                "average": round(sum(values) / len(values), 3) if values else None,
                "max": max((r[top] for r in rows), default=None),
                "data": series(column),
            }

        return {
            "service": name,
            "period": period,
            "resolution": resolution,
            "samples": len(rows),
            "metrics": {
                "cpu": stat("cpu", "cpu_max"),
                "memory": {
                    **stat("memory", "memory_max"),
                    "limit": last["memory_limit"] if last else None,
                },
                "network": {
                    "rx_bytes": last["rx"] if last else 0,
                    "tx_bytes": last["tx"] if last else 0,
                    "data": series("rx"),
                },
                "disk": {
                    "read_bytes": last["rd"] if last else 0,
                    "write_bytes": last["wr"] if last else 0,
                    "data": series("rd"),
                },
            },
        }
