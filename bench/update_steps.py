"""The steps `bench_update.py` times: a source file in the page cache, the anchor
(`cp` + `sync`), and an upload to Homei with curl while its RSS is sampled."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness import (
    HOST,
    BenchError,
    die_with_parent,
    http_request,
    vm_rss_mib,
)

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
