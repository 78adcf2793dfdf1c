"""Homei's core overhead, measured against a bare aiohttp server on the same machine.

Absolute numbers depend on the machine, so every figure is also taken for an anchor:
`bench/bare_app.py`, the smallest aiohttp server (one JSON route, no access log).
Homei is an aiohttp app too, so the ratio homei/bare is what Homei itself costs
on top of Python + aiohttp, and that ratio is what the targets are about.

Measured, the same way for both servers:

1. Time to READY: from spawning the process until it sends `READY=1` to
   `$NOTIFY_SOCKET` (systemd's notify protocol; the anchor sends it too once its
   site listens). Median of `--starts` starts. Homei is timed on an existing data
   dir; its first start, which creates the admin user (scrypt), is reported apart.
2. Idle RSS: `VmRSS` of the server after one warm-up request (for Homei, a login
   and one `GET /api/v1/tasks`, so the auth path is imported) and ~1.5 s idle.
3. Throughput and latency under load: `wrk -t1 -c16 -d<duration>s --latency`
   against the anchor's `GET /json` and Homei's authenticated `GET /api/v1/tasks`
   (an aiohttp client is the fallback when `wrk` is missing; it is much slower and
   shares the CPU with the server, so its figures only compare with each other).

Everything listens on 127.0.0.1 only, runs in a temp dir and stops by itself;
child processes are stopped (and killed if they linger) even on errors. Results
are printed as a table and written to `bench/results/core.json`.

    .venv/bin/python bench/bench_core.py [--duration 10] [--starts 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp
from harness import (
    BENCH_DIR,
    HOST,
    BenchError,
    Server,
    expect_ok,
    homei_server,
    login,
    on_sigterm,
    positive_int,
    precompile_homei,
    rounded,
    running,
    time_starts,
    vm_rss_mib,
)
from load import CONNECTIONS, LoadResult, put_load

BARE_APP = BENCH_DIR / "bare_app.py"
RESULTS_FILE = BENCH_DIR / "results" / "core.json"
IDLE_S = 1.5

#: Metric key -> (comparison, ratio limit) for homei/bare.
TARGETS: Mapping[str, tuple[str, float]] = {
    "ready_s": ("<=", 1.5),
    "idle_rss_mib": ("<=", 1.5),
    "requests_per_s": (">=", 0.5),
}


@dataclass
class Measurements:
    """Everything measured for one server."""

    ready_s: float
    ready_s_all: list[float]
    idle_rss_mib: float
    load: LoadResult
    extra: dict[str, float] = field(default_factory=dict)


# --- the two servers -------------------------------------------------------------------------


def measure_bare(workdir: Path, starts: int, duration: int, wrk: str | None) -> Measurements:
    server = Server(
        name="bare",
        argv=lambda port: [sys.executable, str(BARE_APP), "--host", HOST, "--port", str(port)],
        env={},
        load_path="/json",
    )
    times = time_starts(server, workdir, starts)
    with running(server, workdir) as srv:
        expect_ok(srv.port, server.load_path)
        time.sleep(IDLE_S)
        rss = vm_rss_mib(srv.proc.pid)
        load = put_load(wrk, srv.port, server.load_path, duration)
    return Measurements(statistics.median(times), times, rss, load)


def measure_homei(
    workdir: Path,
    starts: int,
    duration: int,
    wrk: str | None,
    homei: str,
) -> Measurements:
    data_dir = workdir / "homei-data"
    server = homei_server(homei, data_dir, "/api/v1/tasks")
    first = time_starts(server, workdir, 1)[0]
    password_file = data_dir / "initial-admin-password"
    if not password_file.is_file():
        raise BenchError(f"homei did not create {password_file}")
    password = password_file.read_text().strip()
    times = time_starts(server, workdir, starts)
    with running(server, workdir) as srv:
        auth = {"Authorization": f"Bearer {login(srv.port, password)}"}
        expect_ok(srv.port, server.load_path, auth)
        time.sleep(IDLE_S)
        rss = vm_rss_mib(srv.proc.pid)
        load = put_load(wrk, srv.port, server.load_path, duration, auth)
    return Measurements(statistics.median(times), times, rss, load, {"first_start_ready_s": first})


# --- report ----------------------------------------------------------------------------------

#: Row label, metric key, number format.
ROWS = (
    ("time to READY (s)", "ready_s", ".3f"),
    ("idle RSS (MiB)", "idle_rss_mib", ".1f"),
    ("requests/s", "requests_per_s", ".0f"),
    ("p50 latency (ms)", "p50_ms", ".2f"),
    ("p99 latency (ms)", "p99_ms", ".2f"),
)


def metrics(m: Measurements) -> dict[str, float]:
    """The compared figures of one server, flat."""
    return {
        "ready_s": m.ready_s,
        "idle_rss_mib": m.idle_rss_mib,
        "requests_per_s": m.load.requests_per_s,
        "p50_ms": m.load.p50_ms,
        "p99_ms": m.load.p99_ms,
    }


def verdict(key: str, ratio: float) -> tuple[str, bool | None]:
    """The target text for a metric and whether the ratio meets it (None: no target)."""
    if key not in TARGETS:
        return "", None
    op, limit = TARGETS[key]
    met = ratio <= limit if op == "<=" else ratio >= limit
    return f"{op} {limit:g}x", met


def report(bare: Measurements, homei: Measurements, args: argparse.Namespace) -> dict[str, object]:
    """Print the table and return the same figures for the JSON file."""
    b, h = metrics(bare), metrics(homei)
    ratios = {key: h[key] / b[key] for key in b}
    print(f"\n{'metric':<22} {'bare aiohttp':>12} {'homei':>10} {'ratio':>8}   target")
    targets: dict[str, object] = {}
    for label, key, fmt in ROWS:
        text, met = verdict(key, ratios[key])
        if met is not None:
            targets[key] = {"target": text, "ratio": ratios[key], "met": met}
            text += "" if met else "   MISSED"
        line = f"{label:<22} {b[key]:>12{fmt}} {h[key]:>10{fmt}} {ratios[key]:>7.2f}x   {text}"
        print(line.rstrip())
    generator = homei.load.generator
    first = homei.extra["first_start_ready_s"]
    print(f"\nhomei first start (creates the admin, scrypt): {first:.3f} s to READY")
    print(f"time to READY: median of {args.starts} starts; homei on an existing data dir")
    print(
        f"load: {generator}, {CONNECTIONS} connections, {args.duration} s, "
        f"bare GET /json vs homei GET /api/v1/tasks (authenticated); {os.cpu_count()} CPUs"
    )
    if generator != "wrk":
        print("NOTE: wrk not found; used the slower in-process aiohttp client as load generator")
    for name, m in (("bare", bare), ("homei", homei)):
        if m.load.non_2xx or m.load.socket_errors:
            print(
                f"WARNING: {name}: {m.load.non_2xx} non-2xx/3xx answers, "
                f"{m.load.socket_errors} socket errors"
            )
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "aiohttp": aiohttp.__version__,
            "kernel": platform.release(),
        },
        "config": {
            "duration_s": args.duration,
            "starts": args.starts,
            "connections": CONNECTIONS,
            "load_generator": generator,
        },
        "bare": {**b, "ready_s_all": bare.ready_s_all, "load": asdict(bare.load)},
        "homei": {**h, "ready_s_all": homei.ready_s_all, "load": asdict(homei.load), **homei.extra},
        "ratios": ratios,
        "targets": targets,
    }


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration",
        type=positive_int(60),
        default=10,
        help="seconds of load per server (default 10)",
    )
    parser.add_argument(
        "--starts",
        type=positive_int(20),
        default=5,
        help="timed starts per server; the median is reported (default 5)",
    )
    parser.add_argument(
        "--homei",
        default=str(Path(sys.executable).parent / "homei"),
        help="the homei executable (default: next to this Python)",
    )
    args = parser.parse_args()
    if not os.access(args.homei, os.X_OK):
        parser.error(f"not executable: {args.homei}")
    signal.signal(signal.SIGTERM, on_sigterm)
    wrk = shutil.which("wrk")
    precompile_homei()

    try:
        with tempfile.TemporaryDirectory(prefix="homei-bench-") as tmp:
            workdir = Path(tmp)
            print(f"measuring bare aiohttp ({args.starts} starts, {args.duration} s load)...")
            bare = measure_bare(workdir, args.starts, args.duration, wrk)
            print(f"measuring homei ({args.starts + 1} starts, {args.duration} s load)...")
            homei = measure_homei(workdir, args.starts, args.duration, wrk, args.homei)
    except (BenchError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

    results = report(bare, homei, args)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(rounded(results), indent=2) + "\n")
    print(f"\nwritten to {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
