"""Homei's containers API against the Docker Engine API it stands on, in one run.

A private Docker engine (devdevice/docker-up) runs 50 containers. Then:

1. Listing: `GET /api/v1/containers` through Homei against `GET /containers/json?all=1`
   straight to the engine's socket, both from the same aiohttp client, `--requests`
   sequential requests each after a warm-up; the median latency of each and their ratio
   (target: Homei within 1.5x of the raw API).
2. Log follow: one container writes `--lines` lines as fast as it can, then exits; the
   time to read every line through `GET /api/v1/containers/{id}/logs?follow=true`
   against `docker logs -f` on the same container (both from the start of its log);
   lines per second and their ratio (target: Homei at least 0.8x).

Everything stays on loopback and under one temp dir; the engine is stopped at the end.
Results are printed and written to `bench/results/services.json`.

    .venv/bin/python bench/bench_services.py [--containers 50] [--requests 200] [--lines 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from bench_core import BENCH_DIR, homei_server, login, precompile_homei, running

sys.path.insert(0, str(BENCH_DIR.parent))
from tests.docker_env import IMAGE, DockerEngine, docker_cli

RESULTS_FILE = BENCH_DIR / "results" / "services.json"


async def timed_get(session: aiohttp.ClientSession, url: str, **kw: object) -> float:
    """Seconds for one GET, its body read."""
    started = time.perf_counter()
    async with session.get(url, **kw) as response:  # type: ignore[arg-type]
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}")
    return time.perf_counter() - started


async def measure_list(engine: DockerEngine, port: int, token: str, requests: int) -> dict:
    """Median latency of each, the two interleaved so that a busy moment of the machine
    falls on both alike (after five warm-up requests each)."""
    raw_url = "http://docker/v1.41/containers/json?all=1"
    homei_url = f"http://127.0.0.1:{port}/api/v1/containers"
    headers = {"Authorization": f"Bearer {token}"}
    raw_times, homei_times = [], []
    connector = aiohttp.UnixConnector(path=str(engine.socket_path))
    async with aiohttp.ClientSession(connector=connector) as raw, aiohttp.ClientSession() as client:
        for index in range(requests + 5):
            raw_s = await timed_get(raw, raw_url)
            homei_s = await timed_get(client, homei_url, headers=headers)
            if index >= 5:
                raw_times.append(raw_s)
                homei_times.append(homei_s)
    raw_s, homei_s = statistics.median(raw_times), statistics.median(homei_times)
    return {"raw_ms": raw_s * 1000, "homei_ms": homei_s * 1000, "ratio": homei_s / raw_s}


async def follow_homei(port: int, token: str, container: str, lines: int) -> float:
    url = f"http://127.0.0.1:{port}/api/v1/containers/{container}/logs"
    params = {"follow": "true", "tail": str(lines)}
    timeout = aiohttp.ClientTimeout(total=None)
    started = time.perf_counter()
    seen = 0
    async with aiohttp.ClientSession(timeout=timeout) as client:
        headers = {"Authorization": f"Bearer {token}"}
        async with client.get(url, params=params, headers=headers) as response:
            # Counted per chunk, as `docker logs -f | wc -l` would: the reader is not measured.
            async for chunk in response.content.iter_any():
                seen += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    if seen < lines:
        raise RuntimeError(f"Homei followed {seen} of {lines} lines")
    return elapsed


def follow_docker(engine: DockerEngine, container: str, lines: int) -> float:
    started = time.perf_counter()
    with subprocess.Popen(
        [docker_cli(), "logs", "-f", container], env=engine.env(), stdout=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None
        seen = sum(chunk.count(b"\n") for chunk in iter(lambda: proc.stdout.read1(1 << 16), b""))
    elapsed = time.perf_counter() - started
    if seen < lines:
        raise RuntimeError(f"docker logs -f gave {seen} of {lines} lines")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--lines", type=int, default=100_000)  # the API's largest tail
    args = parser.parse_args()
    precompile_homei()
    homei = str(Path(sys.executable).with_name("homei"))
    with tempfile.TemporaryDirectory(prefix="homei-bench-services-") as temp:
        work = Path(temp)
        engine = DockerEngine(work / "docker").up()
        try:
            engine.make_image()
            for index in range(args.containers - 1):
                engine.run(
                    "run",
                    "-d",
                    "--name",
                    f"idle-{index}",
                    "--label",
                    "io.homei.bench=1",
                    IMAGE,
                    "sleep",
                    "3600",
                )
            # The writer: `--lines` lines as fast as busybox's seq writes them, then exit.
            engine.run("run", "-d", "--name", "writer", IMAGE, "seq", "1", str(args.lines))
            engine.run("wait", "writer")
            server = homei_server(homei, work / "homei", "/api/v1/containers")
            server = type(server)(
                server.name,
                server.argv,
                {**server.env, "HOMEI_DOCKER__URL": engine.host},
                server.load_path,
            )
            (work / "homei").mkdir()
            with running(server, work / "homei") as live:
                password = (work / "homei" / "initial-admin-password").read_text().strip()
                token = login(live.port, password)
                listing = asyncio.run(measure_list(engine, live.port, token, args.requests))
                docker_s = min(follow_docker(engine, "writer", args.lines) for _ in range(3))
                homei_s = min(
                    asyncio.run(follow_homei(live.port, token, "writer", args.lines))
                    for _ in range(3)
                )
        finally:
            engine.down()
    follow = {
        "lines": args.lines,
        "docker_lines_per_s": args.lines / docker_s,
        "homei_lines_per_s": args.lines / homei_s,
        "ratio": docker_s / homei_s,
    }
    result = {"containers": args.containers, "list": listing, "follow": follow}
    print(f"containers: {args.containers}")
    print(
        f"list   raw Docker API {listing['raw_ms']:.2f} ms, Homei {listing['homei_ms']:.2f} ms"
        f" -> {listing['ratio']:.2f}x (target <= 1.5x)"
    )
    print(
        f"follow docker logs -f {follow['docker_lines_per_s']:,.0f} lines/s, Homei"
        f" {follow['homei_lines_per_s']:,.0f} lines/s -> {follow['ratio']:.2f}x (target >= 0.8x)"
    )
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
