"""What the device sampler and its history cost.

1. Idle cost of sampling: two `homei serve` run side by side for `--idle` seconds (at least
   60), one with `monitor.interval = 1`, one with the sampler off (`0`). Each is warmed up
   the same way (a login and one `GET /api/v1/metrics/current`), then left alone. Their CPU
   time comes from /proc/PID/stat (utime + stime) over the window, their RSS from /proc at
   its end. Targets: the sampler costs under 1% of one core and under 10 MiB of RSS.
2. History: a store is filled with 7 days of the device's series through `History` (one
   sample a minute, flushed as the daemon flushes, so every minute and hour rollup is
   written by the real path), then a `homei serve` on that store answers
   `GET /api/v1/metrics/history` over the 7 days at 5-minute resolution (median of
   `--queries`; target under 50 ms). The store's bytes per day of history are its size
   after VACUUM over the 7 days; the raw tier (one hour of 1 s samples) is measured apart,
   as it is a fixed cost that does not grow with time.

Everything listens on 127.0.0.1, runs in a temp dir and stops by itself. Results are printed
and written to `bench/results/monitor.json`.

    .venv/bin/python bench/bench_monitor.py [--idle 60] [--queries 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness import (
    BENCH_DIR,
    BenchError,
    Server,
    expect_ok,
    homei_server,
    http_request,
    login,
    on_sigterm,
    positive_int,
    precompile_homei,
    report,
    running,
    vm_rss_mib,
)

from homei.components import MIGRATIONS
from homei.core.store import Store
from homei.monitor.history import History, Retention

RESULTS_FILE = BENCH_DIR / "results" / "monitor.json"
TICK = os.sysconf("SC_CLK_TCK")
DAYS = 7
# A Jetson's series: the machine's, plus the zones, rails and GPU load it adds.
SERIES = {
    "cpu": 23.5,
    "memory": 41.2,
    "swap": 0.0,
    "load1": 0.62,
    "disk:/": 37.8,
    "inodes:/": 4.1,
    "disk_free_bytes:/": 41_234_567_890.0,
    "disk:/data": 12.5,
    "inodes:/data": 0.8,
    "disk_free_bytes:/data": 112_345_678_901.0,
    "net_rx:eth0": 1234.5,
    "net_tx:eth0": 345.6,
    "net_rx:lo": 120.0,
    "net_tx:lo": 120.0,
    "net_rx:docker0": 12.0,
    "net_tx:docker0": 8.0,
    **{f"temperature:{zone}": 45.5 for zone in ("CPU-therm", "GPU-therm", "SOC0", "tj")},
    **{f"power:{rail}": 3.2 for rail in ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC")},
    "gpu": 34.5,
}


@dataclass
class Idle:
    cpu_percent: float
    rss_mib: float


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid`, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def with_interval(server: Server, name: str, interval: str) -> Server:
    return Server(name, server.argv, {**server.env, "HOMEI_MONITOR__INTERVAL": interval}, "")


def measure_idle(homei: str, workdir: Path, seconds: int) -> dict[str, Idle]:
    """CPU share and RSS of a daemon sampling every second against one that does not."""
    servers = {
        "sampler_on": with_interval(homei_server(homei, workdir / "on", ""), "on", "1"),
        "sampler_off": with_interval(homei_server(homei, workdir / "off", ""), "off", "0"),
    }
    with contextlib.ExitStack() as stack:
        procs = {}
        for key, server in servers.items():
            (workdir / server.name).mkdir()
            srv = stack.enter_context(running(server, workdir / server.name))
            password = (workdir / server.name / "initial-admin-password").read_text().strip()
            token = login(srv.port, password)
            expect_ok(srv.port, "/api/v1/metrics/current", {"Authorization": f"Bearer {token}"})
            procs[key] = srv
        time.sleep(5)  # past the start-up work that follows READY
        start = {key: cpu_seconds(srv.proc.pid) for key, srv in procs.items()}
        began = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - began
        return {
            key: Idle(
                (cpu_seconds(srv.proc.pid) - start[key]) / elapsed * 100,
                vm_rss_mib(srv.proc.pid),
            )
            for key, srv in procs.items()
        }


async def fill(database: Path, end: float, *, days: int, step: int) -> None:
    """`days` of samples every `step` seconds up to `end`, flushed every 10 samples."""
    store = await Store.open(database, MIGRATIONS)
    try:
        history = History(store, Retention())
        ts = end - days * 86400
        count = 0
        while ts < end:
            wobble = (count % 37) / 37
            history.add(ts, {name: value * (0.9 + 0.2 * wobble) for name, value in SERIES.items()})
            count += 1
            if count % 10 == 0:
                await history.flush(now=ts + 1)
            ts += step
        await history.flush(now=end)
    finally:
        await store.close()


def vacuumed_size(database: Path) -> int:
    with sqlite3.connect(database) as db:
        db.execute("VACUUM")
    return database.stat().st_size


def empty_size(workdir: Path) -> int:
    database = workdir / "empty.db"
    asyncio.run(fill(database, time.time(), days=0, step=60))
    return vacuumed_size(database)


def measure_history(homei: str, workdir: Path, queries: int) -> dict[str, float]:
    """Bytes per day of history, bytes of the raw tier, and the 7-day query's latency."""
    data_dir = workdir / "history"
    data_dir.mkdir()
    database = data_dir / "homei.db"
    end = time.time()
    began = time.monotonic()
    asyncio.run(fill(database, end, days=DAYS, step=60))
    fill_s = time.monotonic() - began
    base = empty_size(workdir)
    week = vacuumed_size(database) - base
    raw_db = workdir / "raw.db"
    asyncio.run(fill_raw_hour(raw_db, end))
    raw = vacuumed_size(raw_db) - base

    # Sampling, as on a device: the query reads the latest snapshot, not the machine.
    server = with_interval(homei_server(homei, data_dir, ""), "history", "1")
    with running(server, workdir) as srv:
        password = (data_dir / "initial-admin-password").read_text().strip()
        headers = {"Authorization": f"Bearer {login(srv.port, password)}"}
        start = dt.datetime.fromtimestamp(end - DAYS * 86400, dt.UTC).isoformat()
        stop = dt.datetime.fromtimestamp(end, dt.UTC).isoformat()
        path = f"/api/v1/metrics/history?start={start}&end={stop}&resolution=5m".replace("+", "%2B")
        times, points = [], 0
        for _ in range(queries):
            began = time.perf_counter()
            status, body = http_request(srv.port, "GET", path, headers=headers)
            times.append((time.perf_counter() - began) * 1000)
            if status != 200:
                raise BenchError(f"history answered {status}: {body[:200]!r}")
            points = len(json.loads(body)["metrics"])
    return {
        "bytes_per_day": week / DAYS,
        "raw_tier_bytes": raw,
        "query_7d_5m_ms": statistics.median(times),
        "query_points": points,
        "fill_7d_s": fill_s,
    }


async def fill_raw_hour(database: Path, end: float) -> None:
    """One hour of 1 s samples: what the raw tier holds at any time."""
    store = await Store.open(database, MIGRATIONS)
    try:
        history = History(store, Retention())
        for second in range(3600):
            history.add(end - 3600 + second, SERIES)
            if second % 10 == 9:
                await history.flush(now=end - 3600 + second)
        await history.flush(now=end)
    finally:
        await store.close()


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="homei-bench-monitor-") as directory:
        yield Path(directory)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=positive_int(3600), default=60, help="seconds idle")
    parser.add_argument("--queries", type=positive_int(1000), default=20)
    args = parser.parse_args()
    if args.idle < 60:
        parser.error("--idle must be at least 60 s")
    signal.signal(signal.SIGTERM, on_sigterm)
    homei = str(Path(sys.executable).parent / "homei")
    precompile_homei()
    with workspace() as workdir:
        history = measure_history(homei, workdir, args.queries)
        idle = measure_idle(homei, workdir, args.idle)
    on, off = idle["sampler_on"], idle["sampler_off"]
    results = {
        "idle_s": args.idle,
        "cpu_percent_on": on.cpu_percent,
        "cpu_percent_off": off.cpu_percent,
        "sampler_cpu_percent": on.cpu_percent - off.cpu_percent,
        "rss_mib_on": on.rss_mib,
        "rss_mib_off": off.rss_mib,
        "sampler_rss_mib": on.rss_mib - off.rss_mib,
        **history,
    }
    checks = {
        "sampler_cpu_percent < 1": results["sampler_cpu_percent"] < 1.0,
        "sampler_rss_mib < 10": results["sampler_rss_mib"] < 10.0,
        "query_7d_5m_ms < 50": results["query_7d_5m_ms"] < 50.0,
    }
    return report(results, checks, RESULTS_FILE, 24)


if __name__ == "__main__":
    sys.exit(main())
