"""Figures about the machine itself, read through psutil off the event loop."""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import time
from pathlib import Path
from typing import Any


def _read_system(data_dir: Path) -> dict[str, Any]:
    import psutil  # imported on first use, in this worker thread

    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(str(data_dir))
    boot = psutil.boot_time()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = [0.0, 0.0, 0.0]
    return {
        "hostname": socket.gethostname(),
        "platform": platform.system().lower(),
        "architecture": platform.machine(),
        "kernel": platform.release(),
        "cpu_count": psutil.cpu_count() or 1,
        "cpu_percent": psutil.cpu_percent(interval=None),
        "memory": {"total": memory.total, "available": memory.available, "percent": memory.percent},
        "disk": {
            "path": str(data_dir),
            "total": disk.total,
            "used": disk.used,
            "free": disk.free,
            "percent": disk.percent,
        },
        "uptime": int(time.time() - boot),
        "boot_time": int(boot),
        "load_average": load,
    }


async def read_system(data_dir: Path) -> dict[str, Any]:
    """Host name, architecture, CPU, memory, disk of the data partition, uptime, load."""
    return await asyncio.to_thread(_read_system, data_dir)
