"""The tiered history: rollups checked against the raw samples they summarise (on a driven
clock, no hour-long waits), the tier each resolution is answered from, pruning, and a store
that a kill -9 leaves readable."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import statistics
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from homei.core.store import Store
from homei.monitor.history import MIGRATIONS, History, Retention
from tests.daemon_process import start_homei
from tests.processes import wait_for

T0 = 1_800_000_000 // 3600 * 3600  # an hour's start
STEP = 5  # seconds between the driven samples


def cpu_at(ts: int) -> float:
    """A figure that wanders: its extremes and means differ in every minute."""
    return round(50 + 40 * math.sin(ts / 97) + (ts % 7), 2)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "history.db", MIGRATIONS)
    yield opened
    await opened.close()


async def fill(history: History, start: int, end: int) -> None:
    """Samples every STEP seconds in [start, end), flushed every minute as the daemon would."""
    for ts in range(start, end, STEP):
        history.add(ts, {"cpu": cpu_at(ts), "memory": 40.0 + (ts - start) / 3600})
        if ts % 60 == 60 - STEP:
            await history.flush(now=ts + 10)
    await history.flush(now=end + 10)


async def test_rollups_match_the_raw_samples(store: Store):
    history = History(store, Retention(raw=4 * 3600))
    await fill(history, T0, T0 + 2 * 3600 + 600)

    minutes = await store.fetch_all(
        "SELECT ts, low, high, mean, n FROM monitor_rollups r JOIN monitor_metrics m"
        " ON m.id = r.metric WHERE m.name = 'cpu' AND step = 60 ORDER BY ts"
    )
    assert len(minutes) == 130  # every closed minute, none of the open one
    for row in minutes:
        values = [cpu_at(ts) for ts in range(row["ts"], row["ts"] + 60, STEP)]
        assert row["n"] == len(values) == 12
        assert row["low"] / 100 == min(values) and row["high"] / 100 == max(values)
        assert row["mean"] / 100 == pytest.approx(statistics.fmean(values), abs=0.006)
    hours = await store.fetch_all(
        "SELECT ts, low, high, mean, n FROM monitor_rollups r JOIN monitor_metrics m"
        " ON m.id = r.metric WHERE m.name = 'cpu' AND step = 3600 ORDER BY ts"
    )
    assert [row["ts"] for row in hours] == [T0, T0 + 3600]
    for row in hours:
        values = [cpu_at(ts) for ts in range(row["ts"], row["ts"] + 3600, STEP)]
        assert row["n"] == 720 and row["low"] / 100 == min(values)
        assert row["high"] / 100 == max(values)
        assert row["mean"] / 100 == pytest.approx(statistics.fmean(values), abs=0.01)

    for resolution, tier in ((120, 60), (300, 300), (900, 300)):
        answer = await history.query(T0, T0 + 3600, resolution, ["cpu"])
        assert answer.tier == tier and len(answer.points["cpu"]) == 3600 // resolution
        for point in answer.points["cpu"]:
            values = [cpu_at(ts) for ts in range(point.ts, point.ts + resolution, STEP)]
            assert point.low == min(values) and point.high == max(values)
            assert point.mean == pytest.approx(statistics.fmean(values), abs=0.01)
    hourly = await history.query(T0, T0 + 2 * 3600, 3600, ["cpu", "memory"])
    assert hourly.tier == 3600 and [p.ts for p in hourly.points["memory"]] == [T0, T0 + 3600]
    raw = await history.query(T0 + 120, T0 + 180, 1, ["cpu"])
    assert raw.tier == 1
    assert [(p.ts, p.mean) for p in raw.points["cpu"]] == [
        (ts, cpu_at(ts)) for ts in range(T0 + 120, T0 + 180, STEP)
    ]
    assert (await history.query(T0, T0 + 60, 60, ["unknown"])).points == {"unknown": []}


async def test_each_tier_keeps_its_retention(store: Store):
    history = History(store, Retention(raw=600, minute=2 * 3600, hour=365 * 86400))
    end = T0 + 3 * 3600
    await fill(history, T0, end)
    oldest = {
        row["step"]: row["oldest"]
        for row in await store.fetch_all(
            "SELECT step, MIN(ts) AS oldest FROM monitor_rollups GROUP BY step"
        )
    }
    raw = await store.fetch_one("SELECT MIN(ts) AS oldest FROM monitor_raw")
    assert raw is not None and end - 600 <= raw["oldest"] + 70
    assert oldest[60] >= end - 2 * 3600 - 60 and oldest[300] == oldest[3600] == T0


async def test_a_restart_carries_on_rolling_up_where_it_stopped(tmp_path: Path):
    """Rollups are written with their samples: a new History on the same store (after a
    crash) rolls up the minutes the old one had not, once, and nothing twice."""
    store = await Store.open(tmp_path / "history.db", MIGRATIONS)
    first = History(store, Retention(raw=4 * 3600))
    await fill(first, T0, T0 + 600)
    first.add(T0 + 600, {"cpu": 1.0})  # never flushed: lost with the process
    await store.close()
    store = await Store.open(tmp_path / "history.db", MIGRATIONS)
    try:
        second = History(store, Retention(raw=4 * 3600))
        await fill(second, T0 + 600, T0 + 1200)
        rows = await store.fetch_all(
            "SELECT ts, n FROM monitor_rollups WHERE step = 60 ORDER BY metric, ts"
        )
        cpu = [(row["ts"], row["n"]) for row in rows][: len(rows) // 2]
        assert cpu == [(T0 + 60 * i, 12) for i in range(20)]
    finally:
        await store.close()


def test_kill_9_leaves_a_readable_history(tmp_path: Path):
    environ = {"HOMEI_MONITOR__INTERVAL": "0.1", "HOMEI_MONITOR__FLUSH_INTERVAL": "0.3"}
    homei = start_homei(tmp_path, **environ)
    database = homei.data_dir / "homei.db"

    def written() -> int:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT COUNT(DISTINCT ts) FROM monitor_raw").fetchone()[0])

    try:
        wait_for(lambda: written() >= 2, 30, lambda: AssertionError(homei.log()))
        os.kill(homei.process.pid, signal.SIGKILL)
        homei.process.wait(10)
    finally:
        homei.stop()
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        before = int(db.execute("SELECT COUNT(*) FROM monitor_raw").fetchone()[0])
    assert before > 0
    again = start_homei(tmp_path, **environ)
    try:
        token = again.login()
        status, body = again.request(
            "GET", "/api/v1/metrics/history?resolution=1s&start=2020-01-01T00:00:00Z", token=token
        )
        assert status == 400  # too many points for one answer
        status, body = again.request("GET", "/api/v1/metrics/history?resolution=1s", token=token)
        assert status == 200 and body["tier"] == "raw" and body["metrics"], body
    finally:
        again.stop()
