"""What the benchmarks share: starting a server and timing it to READY, stopping it
whatever happens, its RSS, and plain HTTP requests to it (the stdlib client, no proxies).

Every child process dies with the benchmark (PR_SET_PDEATHSIG) and listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 10.0

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
class Running:
    """A started server that has sent READY."""

    proc: subprocess.Popen[bytes]
    port: int
    ready_s: float


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


# --- Homei and the command line --------------------------------------------------------------


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


def precompile_homei() -> None:
    """Write Homei's bytecode, as an installed package (wheel or Yocto image) has it.

    aiohttp, the anchor, was byte-compiled when pip installed it; a checkout is not, and
    with PYTHONDONTWRITEBYTECODE set (as on this project's machines) every start would
    compile Homei from source, which no device does.
    """
    package = Path(__file__).resolve().parent.parent / "homei"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)


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


def rounded(value: object) -> object:
    """`value` with every float rounded to 4 decimals, for a readable JSON file."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def report(results: dict[str, object], checks: dict[str, bool], path: Path, width: int) -> int:
    """Print the figures and each check's verdict, write both to `path` as JSON; the exit
    status (1 when a check failed)."""
    for key, value in rounded(results).items():  # type: ignore[union-attr]
        print(f"{key:<{width}} {value}")
    for check, passed in checks.items():
        print(f"{'PASS' if passed else 'FAIL'}  {check}")
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"results": rounded(results), "checks": checks}, indent=2))
    return 0 if all(checks.values()) else 1
