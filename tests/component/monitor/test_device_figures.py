"""The sampler's figures against this machine's /proc and psutil, the Jetson sensors through a
sysfs test double, and the routes that show them: `/metrics/current`, `/status`,
`/metrics/history` and `/ws/monitoring`."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.component.monitor.sysfs import GPU_LOAD_PER_MILLE, set_temperature, write_jetson_sysfs
from tests.conftest import OPEN_LIMITS, Homei, HomeiFactory

DEADLINE = 30.0
FAST = "[monitor]\ninterval = 0.2\nflush_interval = 0.5\n"


async def until(check: Any, what: str, deadline: float = DEADLINE) -> Any:
    """Poll the coroutine function `check` until it returns something truthy."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {what} within {deadline}s")


async def current(homei: Homei) -> dict[str, Any]:
    response = await homei.client.get("/api/v1/metrics/current", headers=await homei.auth())
    assert response.status == 200, await response.text()
    return (await response.json())["metrics"]


@pytest.fixture
async def jetson(make_homei: HomeiFactory, tmp_path: Path) -> tuple[Homei, Path]:
    root = await asyncio.to_thread(write_jetson_sysfs, tmp_path / "sys")
    homei = await make_homei(OPEN_LIMITS + FAST + f'sysfs_root = "{root}"\n')
    return homei, root


async def test_figures_match_proc_and_psutil(make_homei: HomeiFactory):
    homei = await make_homei(OPEN_LIMITS + FAST)
    before = set(psutil.net_io_counters(pernic=True))
    figures = await current(homei)
    memory = psutil.virtual_memory()
    assert figures["memory"]["total_bytes"] == memory.total
    assert abs(figures["memory"]["available_bytes"] - memory.available) < memory.total * 0.05
    assert len(figures["cpu"]["cores"]) == psutil.cpu_count()
    assert all(0 <= core <= 100 for core in figures["cpu"]["cores"])
    assert abs(figures["cpu"]["load"][0] - os.getloadavg()[0]) < 1.5
    root = psutil.disk_usage("/")
    by_mount = {fs["mountpoint"]: fs for fs in figures["filesystems"]}
    assert by_mount["/"]["total_bytes"] == root.total
    assert abs(by_mount["/"]["usage"] - root.percent) < 1.0
    # The data directory lives on / here: its disk is that filesystem.
    assert figures["disk"]["mountpoint"] == "/" and figures["disk"]["usage"] == pytest.approx(
        by_mount["/"]["usage"], abs=1.0
    )
    # Docker's and the kernel's own mounts are not data filesystems.
    assert not [m for m in by_mount if m.startswith(("/proc", "/sys", "/dev", "/var/lib/docker"))]
    counters = psutil.net_io_counters(pernic=True)
    interfaces = {i["device"]: i for i in figures["network"]["interfaces"]}
    # Containers of other processes on this machine add and remove veth interfaces.
    assert before & set(counters) <= set(interfaces) <= before | set(counters)
    assert interfaces["lo"]["rx_bytes"] <= psutil.net_io_counters(pernic=True)["lo"].bytes_recv
    # No thermal zone, INA3221 or GPU on this machine: absent, not errors.
    assert figures["temperatures"] == {} and figures["power"] == {}
    assert figures["gpu_load"] is None and figures["cpu"]["temperature"] is None

    snapshot = homei.components.monitor.sampler.latest
    assert snapshot is not None
    assert set(snapshot.gauges()) == {
        "cpu",
        "memory",
        "swap",
        "load1",
        "disk:/",
        "inodes:/",
        "disk_free_bytes:/",
    }
    # CPU seconds from /proc/stat as psutil reads them (user time per CPU).
    text = await (await homei.client.get("/metrics", headers=await homei.auth())).text()
    psutil_user = psutil.cpu_times(percpu=True)[0].user
    match = re.search(r'node_cpu_seconds_total\{cpu="0",mode="user"\} (\S+)', text)
    assert match and abs(float(match[1]) - psutil_user) < 5.0


async def test_cpu_usage_follows_the_busy_time(make_homei: HomeiFactory):
    """A second sample gives CPU usage from the time between them."""
    homei = await make_homei(OPEN_LIMITS + FAST)
    sampler = homei.components.monitor.sampler
    first = await sampler.next_snapshot()
    second = await sampler.next_snapshot()
    assert second.reading.ts > first.reading.ts
    assert 0.0 <= second.cpu <= 100.0 and len(second.cores) == psutil.cpu_count()
    assert second.gauges()["memory"] == pytest.approx(psutil.virtual_memory().percent, abs=5.0)


async def test_jetson_sensors_from_the_sysfs_double(jetson: tuple[Homei, Path]):
    homei, root = jetson
    figures = await current(homei)
    assert figures["temperatures"] == {"CPU-therm": 45.5, "GPU-therm": 41.25}
    assert figures["cpu"]["temperature"] == 45.5
    assert figures["gpu_load"] == GPU_LOAD_PER_MILLE / 10
    assert figures["power"] == {"VDD_IN": 6.048, "VDD_CPU_GPU_CV": 2.008}
    snapshot = homei.components.monitor.sampler.latest
    assert snapshot is not None
    assert {"temperature:CPU-therm", "temperature:GPU-therm"} <= set(snapshot.gauges())
    assert "power:VDD_IN" in snapshot.series() and "gpu" in snapshot.series()

    await asyncio.to_thread(set_temperature, root, 0, 71000)

    async def hot() -> bool:
        return (await current(homei))["temperatures"]["CPU-therm"] == 71.0

    await until(hot, "new temperature")
    text = await (await homei.client.get("/metrics", headers=await homei.auth())).text()
    assert 'node_thermal_zone_temp{zone="CPU-therm"} 71.0' in text
    assert 'homei_power_rail_watts{rail="VDD_IN"} 6.048' in text
    assert "homei_gpu_load_percent 34.5" in text


async def test_status_is_001_and_002_in_one(homei: Homei):
    response = await homei.client.get("/api/v1/status", headers=await homei.auth())
    body = await response.json()
    assert body["status"] == "degraded" and body["ready"] is True
    assert re.fullmatch(r"\d+s|(\d+[dhm] ?)+", body["uptime"]) and body["uptime_seconds"] >= 0
    assert 0 <= body["cpu_usage"] <= 100
    assert body["memory_usage"] == pytest.approx(psutil.virtual_memory().percent, abs=5.0)
    assert body["disk_usage"] == pytest.approx(psutil.disk_usage("/").percent, abs=1.0)
    assert body["resources"] in {"healthy", "warning", "critical"}


async def test_history_from_the_raw_tier_and_bad_queries(make_homei: HomeiFactory):
    homei = await make_homei(OPEN_LIMITS + FAST)
    headers = await homei.auth()

    async def history(**query: str) -> Any:
        response = await homei.client.get("/api/v1/metrics/history", params=query, headers=headers)
        return response.status, await response.json()

    async def points() -> Any:
        status, body = await history(resolution="1s", metrics="disk:/,load1")
        assert status == 200, body
        return body if len(body["metrics"]) >= 2 else None

    body = await until(points, "written samples")
    assert body["tier"] == "raw" and body["resolution"] == "1s"
    point = body["metrics"][-1]
    assert 0 <= point["cpu"]["usage"] <= 100 and point["memory"]["total"] > 0
    assert point["disk"]["free"] > 0 and set(point["values"]) == {"disk:/", "load1"}
    stat = point["values"]["load1"]
    assert stat["min"] <= stat["avg"] <= stat["max"]
    status, body = await history(resolution="2m")
    assert status == 200 and body["tier"] == "1m"
    status, body = await history(resolution="5m")
    assert status == 200 and body["tier"] == "5m"
    status, body = await history(resolution="2h")
    assert status == 200 and body["tier"] == "1h"
    for query, field in (
        ({"resolution": "5x"}, "query.resolution"),
        ({"start": "yesterday"}, "query.start"),
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "query.start"),
        ({"start": "2020-01-01T00:00:00Z", "resolution": "1s"}, "query.resolution"),
    ):
        status, body = await history(**query)
        assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR"
        assert body["error"]["details"]["fields"][0]["path"] == field


async def test_ws_monitoring_sends_metrics_status_and_alerts(make_homei: HomeiFactory):
    # Device mode: the bus takes event names the registry does not know yet (`alert:*`).
    homei = await make_homei(OPEN_LIMITS + FAST, HOMEI_MODE="device")
    token = await homei.token()
    async with homei.client.ws_connect(f"/ws/monitoring?token={token}") as ws:
        stamps = []
        for _ in range(3):
            message = await ws.receive_json(timeout=DEADLINE)
            assert message["type"] == "metrics"
            assert set(message["data"]) >= {"cpu", "memory", "disk", "network", "status"}
            stamps.append(message["timestamp"])
        assert stamps == sorted(stamps)
        homei.components.events.publish("service:stopped", {"service": "site"})
        homei.components.events.publish("alert:firing", {"id": "alert-1", "level": "warning"})
        seen: dict[str, Any] = {}
        while len(seen) < 2:
            message = await ws.receive_json(timeout=DEADLINE)
            if message["type"] != "metrics":
                seen[message["type"]] = message
        assert seen["status"]["event"] == "service:stopped"
        assert seen["status"]["data"] == {"service": "site"}
        assert seen["alert"]["event"] == "alert:firing" and seen["alert"]["data"]["id"] == "alert-1"
