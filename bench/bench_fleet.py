"""Downloading a fleet artefact into the updates folder, measured against `curl` of the
same URL into the same disk.

The artefact (`--size-mib`, 1 GiB by default, random bytes) is served by a plain file
server speaking gooseBit's download link (`GET /DEFAULT/controller/v1/<id>/download`, with
Range): gooseBit itself reads an uploaded file whole into memory (twice: to store it and to
parse its manifest), so it cannot take a 1 GiB artefact on a small machine; what gooseBit
does for a stored file is the same `sendfile` answer this server gives.

Measured, `--repeats` times each, alternating (medians are reported):

1. curl: `curl -sSf -o DST URL`, then an fsync of DST (Homei fsyncs the artefact before it
   keeps it), timed together; DST is deleted after.
2. Homei: `homei.fleet.download.Download`, the code the fleet client downloads with (HTTP
   into a part file, SHA-256 as it goes, fsync, rename into place), run in a child process
   of its own, timed around `run()`; the result must have the announced size and hash.
3. RSS growth of that child during the download: `VmHWM` (reset through `clear_refs` just
   before) minus `VmRSS` before, the worst run reported; the target is under 20 MiB.

Both write into one folder under `--tmp-dir` (checked for free space first, deleted at the
end) and read the artefact from the page cache (it is read once before measuring). Results
are printed and written to `bench/results/fleet.json`.

    .venv/bin/python bench/bench_fleet.py [--size-mib 1024] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1024 * 1024
BLOCK = 8 * MIB
DOWNLOAD_PATH = "/DEFAULT/controller/v1/bench-device/download"
TARGET_RATIO = 0.8
TARGET_RSS_MIB = 20.0
RESULTS = Path(__file__).resolve().parent / "results" / "fleet.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    """VmHWM starts again from VmRSS."""
    Path("/proc/self/clear_refs").write_text("5")


# --- the two children: the file server and Homei's download ---
def serve(path: str, port: int) -> None:
    """A plain file server answering the download link (with Range, by sendfile)."""
    from aiohttp import web

    async def download(_: web.Request) -> web.FileResponse:
        return web.FileResponse(path)

    app = web.Application()
    app.router.add_get(DOWNLOAD_PATH, download)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def homei_download(url: str, target: str, size: int, sha256: str) -> None:
    """Run Homei's fleet download once; prints seconds and memory as JSON."""
    import aiohttp

    from homei.fleet.download import Download

    async def run() -> dict[str, float]:
        async with aiohttp.ClientSession() as session:
            download = Download(session, url, Path(target), size, {"sha256": sha256})

            async def progress(done: int, total: int) -> None:
                return None

            rss = _kib("VmRSS")
            _reset_peak()
            started = time.perf_counter()
            await download.run(progress)
            seconds = time.perf_counter() - started
            return {"seconds": seconds, "rss_growth_mib": (_kib("VmHWM") - rss) / 1024}

    print(json.dumps(asyncio.run(run())))


# --- the bench ---
def make_artefact(path: Path, size: int) -> str:
    """Random bytes, written once; their SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        left = size
        while left:
            block = os.urandom(min(BLOCK, left))
            handle.write(block)
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def warm(path: Path) -> None:
    with path.open("rb") as handle:
        while handle.read(BLOCK):
            pass


def time_curl(url: str, target: Path, timeout: float) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-sSf", "-o", str(target), url], check=True, timeout=timeout)
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds


def time_homei(url: str, target: Path, size: int, sha256: str, timeout: float) -> dict[str, float]:
    answer = subprocess.run(
        [sys.executable, __file__, "--child-download", url, str(target), str(size), sha256],
        check=True,
        timeout=timeout,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(answer.stdout.strip().splitlines()[-1])
    if target.stat().st_size != size:
        raise RuntimeError(f"Homei's download has {target.stat().st_size} bytes, not {size}")
    target.unlink()
    return result


def wait_served(port: int, timeout: float = 30.0) -> None:
    give_up = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return
        except OSError:
            if time.monotonic() > give_up:
                raise
            time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tmp-dir", default=tempfile.gettempdir())
    args = parser.parse_args()

    size = args.size_mib * MIB
    if shutil.disk_usage(args.tmp_dir).free < 2.5 * size:
        print(f"not enough free space under {args.tmp_dir} for 2.5x {args.size_mib} MiB")
        return 2
    timeout = max(120.0, size / (5 * MIB))  # slower than 5 MiB/s is a failure
    work = Path(tempfile.mkdtemp(prefix="homei-bench-fleet-", dir=args.tmp_dir))
    server = None
    try:
        artefact = work / "artefact.raucb"
        print(f"writing {args.size_mib} MiB of random bytes ...", flush=True)
        sha256 = make_artefact(artefact, size)
        warm(artefact)
        updates = work / "updates"
        updates.mkdir()
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, __file__, "--child-serve", str(artefact), str(port)]
        )
        url = f"http://127.0.0.1:{port}{DOWNLOAD_PATH}"
        wait_served(port)

        curl_s: list[float] = []
        homei_s: list[float] = []
        growth: list[float] = []
        for _ in range(args.repeats):
            curl_s.append(time_curl(url, updates / "curl.raucb", timeout))
            result = time_homei(url, updates / "homei.raucb", size, sha256, timeout)
            homei_s.append(result["seconds"])
            growth.append(result["rss_growth_mib"])

        curl_median, homei_median = statistics.median(curl_s), statistics.median(homei_s)
        ratio = curl_median / homei_median  # throughput of Homei relative to curl's
        figures = {
            "size_mib": args.size_mib,
            "repeats": args.repeats,
            "curl_s": [round(s, 2) for s in curl_s],
            "homei_s": [round(s, 2) for s in homei_s],
            "curl_mib_per_s": round(args.size_mib / curl_median, 1),
            "homei_mib_per_s": round(args.size_mib / homei_median, 1),
            "throughput_ratio": round(ratio, 2),
            "rss_growth_mib_worst": round(max(growth), 1),
            "targets": {"throughput_ratio": TARGET_RATIO, "rss_growth_mib": TARGET_RSS_MIB},
        }
        print(json.dumps(figures, indent=2))
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
        met = ratio >= TARGET_RATIO and max(growth) < TARGET_RSS_MIB
        print("targets met" if met else "TARGETS MISSED")
        return 0 if met else 1
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child-serve":
        serve(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 6 and sys.argv[1] == "--child-download":
        homei_download(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(main())
