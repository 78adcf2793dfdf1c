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
import asyncio
import contextlib
import ctypes
import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType

import aiohttp

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
BARE_APP = BENCH_DIR / "bare_app.py"
RESULTS_FILE = BENCH_DIR / "results" / "core.json"

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 10.0
IDLE_S = 1.5
WRK_THREADS = 1
CONNECTIONS = 16
MAX_NON_2XX_FRACTION = 0.01
FALLBACK_MAX_REQUESTS = 1_000_000

#: Metric key -> (comparison, ratio limit) for homei/bare.
TARGETS: Mapping[str, tuple[str, float]] = {
    "ready_s": ("<=", 1.5),
    "idle_rss_mib": ("<=", 1.5),
    "requests_per_s": (">=", 0.5),
}

PR_SET_PDEATHSIG = 1
#: Inherited variables that would change how the servers behave.
SCRUBBED_ENV_PREFIXES = ("HOMEI_", "NOTIFY_SOCKET", "WATCHDOG_", "LISTEN_FDS", "LISTEN_PID")


class BenchError(RuntimeError):
    """A measurement could not be taken; the run fails."""


@dataclass(frozen=True)
class Server:
    """How to start one of the two servers, and which request to put under load."""

    name: str
    argv: Callable[[int], list[str]]
    env: Mapping[str, str]
    load_path: str


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


@dataclass
class Measurements:
    """Everything measured for one server."""

    ready_s: float
    ready_s_all: list[float]
    idle_rss_mib: float
    load: LoadResult
    extra: dict[str, float] = field(default_factory=dict)


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    """A port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent() -> None:
    """In the child: get SIGKILL if the benchmark dies without cleaning up (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The current environment without settings that would skew the servers, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_ENV_PREFIXES)}
    env.update(extra)
    return env


def stop_process(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM, wait, SIGKILL if needed; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)
    return proc.returncode


def wait_ready(sock: socket.socket, proc: subprocess.Popen[bytes], started: float) -> float:
    """Seconds from `started` until a `READY=1` datagram arrives on `sock`."""
    sock.settimeout(0.05)
    while time.perf_counter() - started < READY_TIMEOUT_S:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            if proc.poll() is not None:
                raise BenchError(f"exited with code {proc.returncode} before READY") from None
            continue
        if "READY=1" in data.decode(errors="replace").splitlines():
            return time.perf_counter() - started
    raise BenchError(f"no READY=1 within {READY_TIMEOUT_S:.0f} s")


@dataclass
class Running:
    """A started server that has sent READY."""

    proc: subprocess.Popen[bytes]
    port: int
    ready_s: float


@contextlib.contextmanager
def running(server: Server, workdir: Path) -> Iterator[Running]:
    """Start `server`, wait for READY, yield it, stop it whatever happens."""
    notify_path = workdir / "notify.sock"
    notify_path.unlink(missing_ok=True)
    log_path = workdir / f"{server.name}.log"
    port = free_port()
    with (
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
        log_path.open("ab") as log,
    ):
        sock.bind(str(notify_path))
        env = child_env({**server.env, "NOTIFY_SOCKET": str(notify_path)})
        started = time.perf_counter()
        proc = subprocess.Popen(
            server.argv(port),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            preexec_fn=die_with_parent,
        )
        try:
            try:
                ready_s = wait_ready(sock, proc, started)
            except BenchError as err:
                raise BenchError(f"{server.name}: {err}\n{log_tail(log_path)}") from None
            yield Running(proc, port, ready_s)
        finally:
            stop_process(proc)


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a server's stderr, for error messages."""
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "(no log)"
    return "--- last lines of its stderr ---\n" + "\n".join(text)


def time_starts(server: Server, workdir: Path, starts: int) -> list[float]:
    """Time to READY of `starts` consecutive starts; each must also stop cleanly."""
    times = []
    for _ in range(starts):
        with running(server, workdir) as srv:
            times.append(srv.ready_s)
        if srv.proc.returncode not in (0, -signal.SIGTERM):
            raise BenchError(f"{server.name} exited with code {srv.proc.returncode} on SIGTERM")
    return times


def vm_rss_mib(pid: int) -> float:
    """Resident set size of `pid` in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for pid {pid}")


# --- HTTP ------------------------------------------------------------------------------------


def http_request(
    port: int,
    method: str,
    path: str,
    body: object = None,
    headers: Mapping[str, str] = {},
) -> tuple[int, bytes]:
    """One request to 127.0.0.1 (stdlib, no proxies); returns status and body."""
    conn = http.client.HTTPConnection(HOST, port, timeout=HTTP_TIMEOUT_S)
    try:
        payload = None if body is None else json.dumps(body).encode()
        all_headers = dict(headers)
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        conn.request(method, path, body=payload, headers=all_headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def expect_ok(port: int, path: str, headers: Mapping[str, str] = {}) -> None:
    """GET `path` and insist on a 2xx, so that load is put on the real route."""
    status, body = http_request(port, "GET", path, headers=headers)
    if not 200 <= status < 300:
        raise BenchError(f"GET {path} answered {status}: {body[:200]!r}")


def login(port: int, password: str) -> str:
    """Homei's access token for `admin`."""
    status, body = http_request(
        port,
        "POST",
        "/api/v1/auth/login",
        {"username": "admin", "password": password},
    )
    if status != 200:
        raise BenchError(f"login answered {status}: {body[:200]!r}")
    token: str = json.loads(body)["access_token"]
    return token


# --- load ------------------------------------------------------------------------------------

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


def homei_server(homei: str, data_dir: Path, load_path: str) -> Server:
    """`homei serve` on its own data dir, rate limits off (the load would meet them)."""
    return Server(
        name="homei",
        argv=lambda port: [
            homei,
            "serve",
            "--data-dir",
            str(data_dir),
            "--listen",
            f"{HOST}:{port}",
        ],
        env={"HOMEI_MODE": "development", "HOMEI_RATE_LIMITS__ENABLED": "false"},
        load_path=load_path,
    )


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


def rounded(value: object) -> object:
    """`value` with every float rounded to 4 decimals, for a readable JSON file."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


# --- main ------------------------------------------------------------------------------------


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit so that cleanup runs."""
    raise SystemExit(128 + signum)


def positive_int(limit: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"must be between 1 and {limit}")
        return value

    return parse


def precompile_homei() -> None:
    """Write Homei's bytecode, as an installed package (wheel or Yocto image) has it.

    aiohttp, the anchor, was byte-compiled when pip installed it; a checkout is not, and
    with PYTHONDONTWRITEBYTECODE set (as on this project's machines) every start would
    compile Homei from source, which no device does.
    """
    package = Path(__file__).resolve().parent.parent / "homei"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)


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
