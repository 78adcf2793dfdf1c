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
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp
from bench_core import (
    HOST,
    BenchError,
    die_with_parent,
    homei_server,
    http_request,
    login,
    on_sigterm,
    positive_int,
    rounded,
    running,
    vm_rss_mib,
)

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_FILE = BENCH_DIR / "results" / "update.json"

MIB = 1024 * 1024
BUNDLE_NAME = "bench.raucb"
UPLOAD_PATH = f"/api/v1/update/bundles?filename={BUNDLE_NAME}"
#: Free space kept on top of the source and one copy (Homei itself wants 64 MiB spare).
SPACE_RESERVE = 512 * MIB
#: Slowest disk this benchmark waits for, in MiB/s; sets every copy's and upload's deadline.
MIN_MIB_PER_S = 10
MIN_STEP_TIMEOUT_S = 60.0
RSS_INTERVAL_S = 0.02
SETTLE_S = 0.5

#: The ratio homei/cp of the throughput must reach this.
THROUGHPUT_TARGET = 0.8
#: RSS growth during an upload must stay under 20 MB (decimal), i.e. 19.07 MiB.
RSS_TARGET_MIB = 20e6 / MIB


@dataclass
class Upload:
    """One timed upload and what Homei's RSS did meanwhile."""

    seconds: float
    rss_before_mib: float
    rss_peak_mib: float
    rss_samples: int
    hwm_mib: float | None

    @property
    def growth_mib(self) -> float:
        peak = max(self.rss_peak_mib, self.hwm_mib or 0.0)
        return peak - self.rss_before_mib


@dataclass
class Results:
    cp_s: list[float] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)


# --- the source file -------------------------------------------------------------------------


def check_free_space(directory: Path, size: int) -> None:
    """Abort unless `directory` holds the source, one copy and a reserve."""
    free = shutil.disk_usage(directory).free
    needed = 2 * size + SPACE_RESERVE
    if free < needed:
        raise BenchError(
            f"not enough free space in {directory}: {free / MIB:.0f} MiB free, "
            f"{needed / MIB:.0f} MiB needed (2 x {size / MIB:.0f} MiB + reserve); "
            "use a smaller --size-mib or another --tmp-dir"
        )


def make_source(path: Path, size_mib: int) -> str:
    """Write `size_mib` MiB of random bytes to `path`, fsynced; returns their SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size_mib):
            chunk = os.urandom(MIB)
            out.write(chunk)
            digest.update(chunk)
        out.flush()
        os.fsync(out.fileno())  # no writeback of the source may overlap the measurements
    return digest.hexdigest()


def read_through(path: Path) -> int:
    """Read `path` once (so both contenders read it from the page cache); returns its size."""
    total = 0
    with path.open("rb", buffering=0) as src:
        while chunk := src.read(8 * MIB):
            total += len(chunk)
    return total


# --- the anchor: cp + sync -------------------------------------------------------------------


def run_step(argv: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Run a child to completion within `timeout`; it is killed on timeout or error."""
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{argv[0]} did not finish within {timeout:.0f} s") from None
    return done


def time_cp(src: Path, dst: Path, timeout: float) -> float:
    """Seconds for `cp src dst` plus `sync dst`; dst is removed afterwards."""
    dst.unlink(missing_ok=True)
    time.sleep(SETTLE_S)
    try:
        began = time.perf_counter()
        for argv in (["cp", str(src), str(dst)], ["sync", str(dst)]):
            done = run_step(argv, timeout)
            if done.returncode != 0:
                raise BenchError(f"{' '.join(argv)} failed: {done.stderr.decode().strip()}")
        elapsed = time.perf_counter() - began
        if dst.stat().st_size != src.stat().st_size:
            raise BenchError(f"cp wrote {dst.stat().st_size} bytes, not {src.stat().st_size}")
        return elapsed
    finally:
        dst.unlink(missing_ok=True)


# --- Homei -----------------------------------------------------------------------------------


def rss_kib(pid: int, key: str) -> int | None:
    """A `Vm*` line of /proc/PID/status in KiB (None if the process is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return None


def reset_hwm(pid: int) -> bool:
    """Reset the process's peak RSS (`VmHWM`) to its current RSS (Linux >= 4.0)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@contextlib.contextmanager
def rss_sampler(pid: int) -> Iterator[dict[str, int]]:
    """Sample `VmRSS` of `pid` every RSS_INTERVAL_S in a thread; yields {peak, samples} (KiB)."""
    seen = {"peak": 0, "samples": 0}
    stop = threading.Event()

    def sample() -> None:
        while True:
            kib = rss_kib(pid, "VmRSS")
            if kib is not None:
                seen["peak"] = max(seen["peak"], kib)
                seen["samples"] += 1
            if stop.wait(RSS_INTERVAL_S):
                return

    thread = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(5)


def curl_upload(curl: str, src: Path, port: int, token: str, body: Path, timeout: float) -> str:
    """Stream `src` to Homei with curl; returns the HTTP status curl printed."""
    argv = [
        curl,
        "-q",  # no ~/.curlrc
        "-sS",
        "--noproxy",
        "*",
        "--max-time",
        f"{timeout:.0f}",
        "-X",
        "POST",
        "-T",
        str(src),
        "-H",
        f"Authorization: Bearer {token}",
        "-H",
        "Content-Type: application/octet-stream",
        "-o",
        str(body),
        "-w",
        "%{http_code}",
        f"http://{HOST}:{port}{UPLOAD_PATH}",
    ]
    done = run_step(argv, timeout + 10)
    if done.returncode != 0:
        raise BenchError(f"curl failed ({done.returncode}): {done.stderr.decode().strip()}")
    return done.stdout.decode().strip()


def check_answer(status: str, body: Path, size: int, sha256: str, bundle: Path) -> None:
    """The upload must answer 201 with the source's size and SHA-256, and land in `bundle`."""
    text = body.read_text(errors="replace")
    if status != "201":
        raise BenchError(f"upload answered {status}: {text[:300]}")
    try:
        answer = json.loads(text)
    except json.JSONDecodeError:
        raise BenchError(f"upload answered 201 without JSON: {text[:300]}") from None
    if answer.get("size") != size or answer.get("sha256") != sha256:
        raise BenchError(
            f"upload answered size {answer.get('size')}, sha256 {answer.get('sha256')}; "
            f"expected {size}, {sha256}"
        )
    if not bundle.is_file() or bundle.stat().st_size != size:
        raise BenchError(f"the bundle is not in {bundle} with {size} bytes")


def delete_bundle(port: int, token: str, bundle: Path) -> None:
    status, body = http_request(
        port,
        "DELETE",
        f"/api/v1/update/bundles/{BUNDLE_NAME}",
        headers={"Authorization": f"Bearer {token}"},
    )
    if status != 200:
        raise BenchError(f"DELETE of the bundle answered {status}: {body[:200]!r}")
    if bundle.exists():
        raise BenchError(f"{bundle} still exists after DELETE")


def time_upload(
    curl: str,
    src: Path,
    sha256: str,
    port: int,
    pid: int,
    token: str,
    data_dir: Path,
    timeout: float,
) -> Upload:
    """One upload of `src`, timed and with Homei's RSS sampled; the bundle is deleted after."""
    size = src.stat().st_size
    bundle = data_dir / "updates" / BUNDLE_NAME
    body = data_dir.parent / "upload-answer.json"
    time.sleep(SETTLE_S)
    before = vm_rss_mib(pid)
    hwm_reset = reset_hwm(pid)
    try:
        with rss_sampler(pid) as seen:
            began = time.perf_counter()
            status = curl_upload(curl, src, port, token, body, timeout)
            elapsed = time.perf_counter() - began
        hwm = rss_kib(pid, "VmHWM") if hwm_reset else None
        check_answer(status, body, size, sha256, bundle)
    finally:
        if bundle.exists():
            delete_bundle(port, token, bundle)
    return Upload(
        seconds=elapsed,
        rss_before_mib=before,
        rss_peak_mib=seen["peak"] / 1024,
        rss_samples=seen["samples"],
        hwm_mib=None if hwm is None else hwm / 1024,
    )


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
