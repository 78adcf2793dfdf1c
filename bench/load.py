"""Load generators for the core benchmark: wrk (`--latency`), or an aiohttp client as the
fallback when wrk is missing (slower, and sharing the CPU with the server)."""

from __future__ import annotations

import asyncio
import re
import statistics
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from harness import HOST, BenchError, die_with_parent

WRK_THREADS = 1
CONNECTIONS = 16
MAX_NON_2XX_FRACTION = 0.01
FALLBACK_MAX_REQUESTS = 1_000_000


@dataclass
class LoadResult:
    """What a load generator saw."""

    generator: str
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int = 0
    socket_errors: int = 0


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_wrk_latency(text: str, percent: int) -> float:
    """A percentile of wrk's `--latency` distribution, in ms."""
    match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.MULTILINE)
    if not match:
        raise BenchError(f"no {percent}% latency in wrk output:\n{text}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_wrk(text: str) -> LoadResult:
    """Requests/sec, p50/p99 and errors from wrk's output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in", text, re.MULTILINE)
    if not rps or not total:
        raise BenchError(f"unexpected wrk output:\n{text}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock_errors = re.search(r"Socket errors:(.*)", text)
    return LoadResult(
        generator="wrk",
        requests=int(total.group(1)),
        requests_per_s=float(rps.group(1)),
        p50_ms=parse_wrk_latency(text, 50),
        p99_ms=parse_wrk_latency(text, 99),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, re.findall(r"\d+", sock_errors.group(1)))) if sock_errors else 0,
    )


def run_wrk(wrk: str, url: str, duration: int, headers: Mapping[str, str]) -> LoadResult:
    """Load `url` with wrk for `duration` seconds."""
    argv = [
        wrk,
        f"-t{WRK_THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "--latency",
    ]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    try:
        done = subprocess.run(
            [*argv, url],
            capture_output=True,
            text=True,
            timeout=duration + 30,
            check=False,
            preexec_fn=die_with_parent,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish within {duration + 30} s") from None
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


async def aiohttp_load(url: str, duration: int, headers: Mapping[str, str]) -> LoadResult:
    """The fallback generator: CONNECTIONS concurrent clients, bounded in time and count."""
    latencies: list[float] = []
    non_2xx = errors = 0
    deadline = time.perf_counter() + duration
    timeout = aiohttp.ClientTimeout(total=5)
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal non_2xx, errors
        while time.perf_counter() < deadline and len(latencies) < FALLBACK_MAX_REQUESTS:
            began = time.perf_counter()
            try:
                async with session.get(url, headers=dict(headers)) as response:
                    await response.read()
                    non_2xx += not 200 <= response.status < 400
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
                continue
            latencies.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONNECTIONS)))
    elapsed = time.perf_counter() - began
    if len(latencies) < 2:
        raise BenchError(f"the aiohttp client completed only {len(latencies)} request(s)")
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return LoadResult(
        "aiohttp client",
        len(latencies),
        len(latencies) / elapsed,
        cuts[49],
        cuts[98],
        non_2xx,
        errors,
    )


def put_load(
    wrk: str | None,
    port: int,
    path: str,
    duration: int,
    headers: Mapping[str, str] = {},
) -> LoadResult:
    """Load `path` with wrk, or the aiohttp fallback, and reject runs full of errors."""
    url = f"http://{HOST}:{port}{path}"
    if wrk:
        result = run_wrk(wrk, url, duration, headers)
    else:
        result = asyncio.run(aiohttp_load(url, duration, headers))
    if result.requests == 0 or result.non_2xx > MAX_NON_2XX_FRACTION * result.requests:
        raise BenchError(f"GET {path}: {result.non_2xx} of {result.requests} answers not 2xx/3xx")
    return result
