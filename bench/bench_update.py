"""Uploading an OS update bundle to Homei, measured against `cp` on the same disk.

Absolute numbers depend on the machine and its disk, so the upload is compared with an
anchor taken in the same run: `cp SRC DST` followed by `sync DST` (an fsync of the copy),
because Homei fsyncs the uploaded bundle before it answers. Both read the same source file
from the page cache (it is read once before measuring) and write a new file to the same
filesystem, so the ratio homei/cp is what receiving over HTTP, hashing (SHA-256) and
Homei's own code cost on top of writing the bytes to disk.

Measured, `--repeats` times each, cp and upload alternating (medians are reported):

1. cp: `cp SRC DST && sync DST`, both processes timed together; DST is deleted after.
2. Homei: `curl -T SRC` (streamed, never loaded into memory) to
   `POST /api/v1/update/bundles?filename=bench.raucb` as admin, timed from spawning curl
   until it exits; the answer must be 201 with `size` and `sha256` equal to the source's.
   The bundle is deleted through `DELETE /api/v1/update/bundles/bench.raucb` after.
3. RSS growth of Homei during an upload: `VmRSS` just before, then sampled from /proc every
   ~20 ms while curl runs (plus `VmHWM`, after resetting it through `clear_refs`, to catch
   peaks between samples). The worst upload is reported; the target is in MiB.

Homei runs as in `bench_core.py` (development mode, rate limits off, 127.0.0.1 only). The
source file, the copies and Homei's data dir share one temp dir under `--tmp-dir`, which is
checked for free space first and deleted at the end; child processes are stopped even on
errors, and every step has a time limit. Results are printed as a table and written to
`bench/results/update.json`.

    .venv/bin/python bench/bench_update.py [--size-mib 1024] [--repeats 3]
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp
from harness import (
    BenchError,
    homei_server,
    login,
    on_sigterm,
    positive_int,
    rounded,
    running,
)
from update_steps import (
    MIB,
    MIN_MIB_PER_S,
    MIN_STEP_TIMEOUT_S,
    RSS_INTERVAL_S,
    UPLOAD_PATH,
    Upload,
    check_free_space,
    make_source,
    read_through,
    time_cp,
    time_upload,
)

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_FILE = BENCH_DIR / "results" / "update.json"

#: The ratio homei/cp of the throughput must reach this.
THROUGHPUT_TARGET = 0.8
#: RSS growth during an upload must stay under 20 MB (decimal), i.e. 19.07 MiB.
RSS_TARGET_MIB = 20e6 / MIB


@dataclass
class Results:
    cp_s: list[float] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)


def measure(workdir: Path, args: argparse.Namespace, curl: str) -> Results:
    size = args.size_mib * MIB
    timeout = max(MIN_STEP_TIMEOUT_S, args.size_mib / MIN_MIB_PER_S)
    src = workdir / "source.raucb"
    dst = workdir / "copy.raucb"
    data_dir = workdir / "homei-data"

    print(f"writing {args.size_mib} MiB of random bytes to {src}...")
    sha256 = make_source(src, args.size_mib)
    if read_through(src) != size:
        raise BenchError(f"{src} does not hold {size} bytes")

    results = Results()
    with running(homei_server(args.homei, data_dir, UPLOAD_PATH), workdir) as srv:
        password_file = data_dir / "initial-admin-password"
        if not password_file.is_file():
            raise BenchError(f"homei did not create {password_file}")
        token = login(srv.port, password_file.read_text().strip())
        if os.stat(data_dir).st_dev != os.stat(src).st_dev:
            raise BenchError(f"{data_dir} and {src} are not on the same filesystem")
        for n in range(1, args.repeats + 1):
            print(f"repeat {n}/{args.repeats}: cp + sync...", flush=True)
            results.cp_s.append(time_cp(src, dst, timeout))
            print(f"repeat {n}/{args.repeats}: upload to homei...", flush=True)
            results.uploads.append(
                time_upload(curl, src, sha256, srv.port, srv.proc.pid, token, data_dir, timeout)
            )
    if srv.proc.returncode not in (0, -signal.SIGTERM):
        raise BenchError(f"homei exited with code {srv.proc.returncode} on SIGTERM")
    return results


# --- report ----------------------------------------------------------------------------------


def report(results: Results, args: argparse.Namespace) -> dict[str, object]:
    """Print the table and return the same figures for the JSON file."""
    cp_s = statistics.median(results.cp_s)
    up_s = statistics.median(u.seconds for u in results.uploads)
    cp_rate, up_rate = args.size_mib / cp_s, args.size_mib / up_s
    ratio = up_rate / cp_rate
    worst = max(results.uploads, key=lambda u: u.growth_mib)
    growth = worst.growth_mib
    rate_met = ratio >= THROUGHPUT_TARGET
    rss_met = growth < RSS_TARGET_MIB

    print(f"\n{'metric':<30} {'cp + sync':>10} {'homei':>10} {'ratio':>8}   target")
    print(f"{'time (s)':<30} {cp_s:>10.3f} {up_s:>10.3f} {up_s / cp_s:>7.2f}x")
    rate_target = f">= {THROUGHPUT_TARGET:g}x" + ("" if rate_met else "   MISSED")
    print(f"{'throughput (MiB/s)':<30} {cp_rate:>10.1f} {up_rate:>10.1f} {ratio:>7.2f}x   ", end="")
    print(rate_target)
    print(f"{'homei RSS before upload (MiB)':<30} {'':>10} {worst.rss_before_mib:>10.1f}")
    print(f"{'homei RSS peak (MiB)':<30} {'':>10} {worst.rss_before_mib + growth:>10.1f}")
    rss_target = f"< {RSS_TARGET_MIB:.2f} MiB (20 MB)" + ("" if rss_met else "   MISSED")
    print(f"{'homei RSS growth (MiB)':<30} {'':>10} {growth:>10.1f} {'':>8}   {rss_target}")

    print(
        f"\n{args.size_mib} MiB file, median of {args.repeats} repeats "
        f"(cp: {', '.join(f'{s:.3f}' for s in results.cp_s)} s; "
        f"homei: {', '.join(f'{u.seconds:.3f}' for u in results.uploads)} s)"
    )
    print(
        "RSS growth per upload (MiB): "
        + ", ".join(f"{u.growth_mib:.1f}" for u in results.uploads)
        + f"; worst shown; sampled every {RSS_INTERVAL_S * 1000:.0f} ms"
        + (" and VmHWM" if worst.hwm_mib is not None else " (VmHWM reset unavailable)")
    )
    print(f"source, copies and homei's data dir in {args.tmp_dir}; {os.cpu_count()} CPUs")
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "aiohttp": aiohttp.__version__,
            "kernel": platform.release(),
        },
        "config": {
            "size_mib": args.size_mib,
            "repeats": args.repeats,
            "tmp_dir": str(args.tmp_dir),
            "rss_interval_s": RSS_INTERVAL_S,
        },
        "cp": {
            "seconds": cp_s,
            "seconds_all": results.cp_s,
            "mib_per_s": cp_rate,
        },
        "homei": {
            "seconds": up_s,
            "seconds_all": [u.seconds for u in results.uploads],
            "mib_per_s": up_rate,
            "rss_growth_mib": growth,
            "uploads": [{**asdict(u), "growth_mib": u.growth_mib} for u in results.uploads],
        },
        "ratios": {"mib_per_s": ratio, "seconds": up_s / cp_s},
        "targets": {
            "mib_per_s": {"target": f">= {THROUGHPUT_TARGET:g}x", "ratio": ratio, "met": rate_met},
            "rss_growth_mib": {
                "target": f"< {RSS_TARGET_MIB:.2f} MiB (20 MB)",
                "value": growth,
                "met": rss_met,
            },
        },
    }


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size-mib",
        type=positive_int(64 * 1024),
        default=1024,
        help="size of the test bundle in MiB (default 1024)",
    )
    parser.add_argument(
        "--repeats",
        type=positive_int(20),
        default=3,
        help="timed copies and uploads each; the median is reported (default 3)",
    )
    parser.add_argument(
        "--tmp-dir",
        type=Path,
        default=Path("/var/tmp"),
        help="parent of the temp dir for the file, copies and homei's data (default /var/tmp)",
    )
    parser.add_argument(
        "--homei",
        default=str(Path(sys.executable).parent / "homei"),
        help="the homei executable (default: next to this Python)",
    )
    args = parser.parse_args()
    if not os.access(args.homei, os.X_OK):
        parser.error(f"not executable: {args.homei}")
    if not args.tmp_dir.is_dir():
        parser.error(f"not a directory: {args.tmp_dir}")
    curl = shutil.which("curl")
    if not curl:
        parser.error("curl is needed to stream the upload")
    signal.signal(signal.SIGTERM, on_sigterm)

    try:
        check_free_space(args.tmp_dir, args.size_mib * MIB)
        with tempfile.TemporaryDirectory(prefix="homei-bench-update-", dir=args.tmp_dir) as tmp:
            results = measure(Path(tmp), args, curl)
    except (BenchError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

    data = report(results, args)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(rounded(data), indent=2) + "\n")
    print(f"\nwritten to {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
