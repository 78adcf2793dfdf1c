"""One backup or restore by Homei's backup engine (the code `/api/v1/backups` runs), in a
process of its own so its RSS can be measured; prints JSON: seconds and RSS figures.

    python bench/backup_child.py create|restore WORK DATA_DIR
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from homei.app import MIGRATIONS
from homei.backup.catalog import BackupCatalog
from homei.backup.homei_part import HomeiPart
from homei.backup.manager import BackupManager, BackupRequest
from homei.backup.manifest import BackupType
from homei.core.events import EventBus
from homei.core.store import Store
from homei.core.tasks import TaskManager


class OneFolder:
    """ServiceData of one service, "bench", whose volume "data" is the data folder."""

    def __init__(self, data: Path, config: Path) -> None:
        self._dirs = {"config": config, "volumes/data": data}

    async def service_names(self) -> list[str]:
        return ["bench"]

    async def export_spec(self, name: str) -> bytes:
        return b'{"name": "bench", "image": "bench", "volumes": ["data:/data"]}'

    async def data_dirs(self, name: str, include_data: bool) -> dict[str, Path]:
        return dict(self._dirs)

    async def backup_mode(self, name: str) -> str:
        return "stop"

    @contextlib.asynccontextmanager
    async def quiesced(self, name: str, mode: str) -> AsyncIterator[None]:
        yield

    @contextlib.asynccontextmanager
    async def stopped(self, names: list[str]) -> AsyncIterator[None]:
        yield

    async def import_spec(self, name: str, spec_json: bytes) -> None:
        pass


def status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


async def main(action: str, work: Path, data: Path) -> dict[str, float]:
    store = await Store.open(work / "homei.db", MIGRATIONS)
    events = EventBus()
    tasks = TaskManager(store, events)
    part = HomeiPart(store, MIGRATIONS, b"{}", None)
    (work / "config").mkdir(exist_ok=True)
    manager = BackupManager(
        BackupCatalog(work / "backups", 2**42), part, OneFolder(data, work / "config"),
        tasks, events,
    )  # fmt: skip
    await manager.start()
    rss_before = status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # noqa: ASYNC240 - VmHWM := VmRSS
    began, cpu = time.perf_counter(), time.process_time()
    if action == "create":
        record = await manager.create(
            BackupRequest("bench", BackupType.PARTIAL, ["bench"], False, True, None)
        )
    else:
        name = (await manager.list())[0].name
        record = await manager.restore(name)
    final = await tasks.wait(record.id)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    if final.status != "completed":
        raise SystemExit(f"{action} failed: {final.error}")
    peak = status_kib("VmHWM")
    await store.close()
    return {"seconds": seconds, "cpu_seconds": cpu, "rss_before_mib": rss_before / 1024,
            "rss_peak_mib": peak / 1024, "growth_mib": (peak - rss_before) / 1024}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])))))
