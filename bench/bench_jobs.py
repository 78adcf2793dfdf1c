"""`uname -a` on 50 systems: Homei's `POST /api/v1/jobs`, against Ansible's ad-hoc run
(`ansible all -m raw -a 'uname -a' -f 50`) and against 50 `ssh` processes in parallel.

The 50 systems are 50 real sshd on loopback (`tests/ssh_env.py`), each with its own port;
all three log in as root with a key. Homei runs as `homei serve` with the 50
registered (its own key pair installed in their `authorized_keys`, no background health
checks, so nothing connects before the first job). A Homei run is timed from the `POST`
until `/ws/jobs/{id}` says the job completed, every execution checked (exit 0, `Linux` in
its stdout). Ansible and ssh are timed from spawn to exit, their output checked as well.

Round 1 is cold for everyone: Homei has no SSH connection yet, Ansible no ControlPersist
master. Later rounds are warm for Homei (its pooled connections) and Ansible (its masters
persist 60 s); plain ssh connects afresh each time, as a script calling it would. Homei's
RSS is sampled every 10 ms during its runs. CPU time is reported beside wall time (Homei's
process; Ansible's and ssh's processes), as it moves far less on a shared machine; the
sshd side is the same for all three and counted for none. ansible-core comes from the
`bench` extra of pyproject.toml, installed into this checkout's virtualenv on first use.
Results go to `bench/results/jobs.json`.

    .venv/bin/python bench/bench_jobs.py [--systems 50] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import aiohttp

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from bench.harness import BenchError, Server, child_env, running, vm_rss_mib  # noqa: E402
from tests.ssh_env import SshEnv, ssh_env  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
COMMAND = "uname -a"
# root: sshd reads the shared authorized_keys (in a private temporary folder) as the user.
USER = "root"
NO_HOST_KEYS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR"]  # fmt: skip


def ensure_ansible() -> None:
    """Install the `bench` extra (ansible-core) into the virtualenv unless it is there."""
    if (VENV_BIN / "ansible").exists():
        return
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["bench"]
    print(f"installing {' '.join(extra)} into .venv ...", flush=True)
    subprocess.run([str(VENV_BIN / "python"), "-m", "pip", "install", "-q",
                    "--disable-pip-version-check", *extra], check=True)  # fmt: skip


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of `pid`, or of this benchmark's finished children."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(work: Callable[[], float], pid: int | None = None) -> tuple[float, float]:
    """Wall seconds (as `work` measures them) and CPU seconds of one run."""
    before = cpu_seconds(pid)
    wall = work()
    return wall, cpu_seconds(pid) - before


class RssSampler(threading.Thread):
    """The highest VmRSS of a process while running."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.01):
            with contextlib.suppress(BenchError, OSError):
                self.peak = max(self.peak, vm_rss_mib(self.pid))


class HomeiSide:
    """A running `homei serve` with the systems registered."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.system_ids: list[str] = []

    async def register(self, env: SshEnv, ports: list[int]) -> None:
        async with aiohttp.ClientSession(headers=self.headers) as http:
            async with http.get(f"{self.url}/api/v1/systems/key") as response:
                env.authorize((await response.json())["public_key"])
            for i, port in enumerate(ports):
                body = {"name": f"peer{i:02d}", "hostname": "127.0.0.1", "port": port,
                        "username": USER}  # fmt: skip
                async with http.post(f"{self.url}/api/v1/systems", json=body) as response:
                    assert response.status == 201, await response.text()
                    self.system_ids.append((await response.json())["id"])

    async def run_job(self) -> float:
        body = {"name": "uname", "command": COMMAND, "system_ids": self.system_ids,
                "concurrency": len(self.system_ids)}  # fmt: skip
        async with aiohttp.ClientSession(headers=self.headers) as http:
            started = time.perf_counter()
            async with http.post(f"{self.url}/api/v1/jobs", json=body) as response:
                job = await response.json()
                assert response.status == 201, job
            ws_url = self.url.replace("http", "ws", 1) + f"/ws/jobs/{job['id']}"
            async with http.ws_connect(ws_url) as ws:
                async for message in ws:
                    if json.loads(message.data)["type"] == "job:completed":
                        break
            elapsed = time.perf_counter() - started
            async with http.get(f"{self.url}/api/v1/jobs/{job['id']}") as response:
                job = await response.json()
        bad = [e for e in job["executions"]
               if e["exit_code"] != 0 or not e["stdout"].startswith("Linux")]  # fmt: skip
        if job["status"] != "completed" or len(job["executions"]) != len(self.system_ids) or bad:
            raise RuntimeError(f"Homei's job did not complete everywhere: {bad[:2]}")
        return elapsed


def run_ansible(inventory: Path, count: int, workdir: Path) -> float:
    env = child_env({"ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_SSH_CONTROL_PATH_DIR":
                     str(workdir / "cp"), "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
                     "ANSIBLE_HOME": str(workdir / "ansible")})  # fmt: skip
    started = time.perf_counter()
    result = subprocess.run(
        [str(VENV_BIN / "ansible"), "all", "-i", str(inventory), "-m", "raw", "-a", COMMAND,
         "-f", str(count)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    ok = result.stdout.count("| CHANGED | rc=0")
    if result.returncode != 0 or ok != count:
        raise RuntimeError(f"ansible: {ok}/{count} ok\n{result.stdout[-2000:]}{result.stderr}")
    return elapsed


def run_ssh(ports: list[int], key: Path) -> float:
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [
                "ssh",
                "-i",
                str(key),
                "-p",
                str(port),
                "-o",
                "BatchMode=yes",
                *NO_HOST_KEYS,
                f"{USER}@127.0.0.1",
                COMMAND,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for port in ports
    ]
    outputs = [p.communicate() for p in processes]
    elapsed = time.perf_counter() - started
    if any(p.returncode != 0 or not out.startswith("Linux") for p, (out, _) in
           zip(processes, outputs, strict=True)):  # fmt: skip
        raise RuntimeError(f"ssh failed: {outputs[0]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ensure_ansible()
    with tempfile.TemporaryDirectory(prefix="homei-bench-jobs-") as tmp, \
            ssh_env(Path(tmp) / "sshd") as env:  # fmt: skip
        work = Path(tmp)
        key = work / "client_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)  # fmt: skip
        env.authorize((work / "client_key.pub").read_text())
        ports = [s.port for s in env.start_many(args.systems)]
        inventory = work / "inventory.ini"
        inventory.write_text(
            "".join(f"peer{i:02d} ansible_host=127.0.0.1 ansible_port={p}\n"
                    for i, p in enumerate(ports))
            + f"[all:vars]\nansible_user={USER}\nansible_ssh_private_key_file={key}\n"
            + f"ansible_ssh_common_args='{' '.join(NO_HOST_KEYS)}'\n"
        )  # fmt: skip
        server = Server(
            "homei",
            lambda port: [str(VENV_BIN / "homei"), "serve", "--data-dir", str(work / "data"),
                          "--listen", f"127.0.0.1:{port}"],
            {"HOMEI_CONFIG": str(work / "none.toml"), "HOMEI_RATE_LIMITS__ENABLED": "false",
             "HOMEI_SYSTEMS__HEALTH_CHECKS": "false", "HOMEI_LOG_LEVEL": "warning",
             "HOMEI_DOCKER__URL": "unix:///nonexistent/docker.sock",
             "HOMEI_DOCKER__REQUIRED": "false"},
            "/health",
        )  # fmt: skip
        (work / "none.toml").write_text("")
        results: dict[str, list[float]] = {"homei": [], "ansible": [], "ssh": []}
        cpu: dict[str, list[float]] = {"homei": [], "ansible": [], "ssh": []}
        with running(server, work) as srv:
            url = f"http://127.0.0.1:{srv.port}"
            password = (work / "data" / "initial-admin-password").read_text().strip()
            token = asyncio.run(_login(url, password))
            homei = HomeiSide(url, token)
            asyncio.run(homei.register(env, ports))
            rss_idle = vm_rss_mib(srv.proc.pid)
            sampler = RssSampler(srv.proc.pid)
            sampler.start()
            runs: dict[str, tuple[Callable[[], float], int | None]] = {
                "homei": (lambda: asyncio.run(homei.run_job()), srv.proc.pid),
                "ansible": (lambda: run_ansible(inventory, args.systems, work), None),
                "ssh": (lambda: run_ssh(ports, key), None),
            }
            for _ in range(args.rounds):
                for name, (work_, pid) in runs.items():
                    wall, used = timed(work_, pid)
                    results[name].append(round(wall, 3))
                    cpu[name].append(round(used, 3))
            sampler.done.set()
            sampler.join()
    report = {
        "systems": args.systems,
        "rounds": args.rounds,
        "seconds": results,
        "cold": {name: times[0] for name, times in results.items()},
        "warm_median": {
            name: statistics.median(times[1:] or times) for name, times in results.items()
        },
        "cpu_seconds": cpu,
        "cpu_median": {name: statistics.median(times) for name, times in cpu.items()},
        "homei_rss_mib": {"idle": round(rss_idle, 1), "peak": round(sampler.peak, 1)},
    }
    print(f"uname -a on {args.systems} systems, {args.rounds} rounds (seconds)")
    print(f"{'':10}{'cold':>8}{'warm median':>14}")
    for name in results:
        print(f"{name:10}{report['cold'][name]:8.2f}{report['warm_median'][name]:14.2f}")
    for name in results:
        print(f"{name:10}CPU {report['cpu_median'][name]:.2f} s per run (median)")
    print(f"homei RSS: idle {rss_idle:.1f} MiB, peak during the runs {sampler.peak:.1f} MiB")
    for phase in ("cold", "warm_median"):
        ratios = {a: report[phase][a] / report[phase]["homei"] for a in ("ansible", "ssh")}
        print(f"{phase}: ansible/homei {ratios['ansible']:.1f}x, ssh/homei {ratios['ssh']:.1f}x")
    out = BENCH / "results" / "jobs.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    faster = all(report[p]["homei"] < min(report[p]["ansible"], report[p]["ssh"])
                 for p in ("cold", "warm_median"))  # fmt: skip
    return 0 if faster else 1


async def _login(url: str, password: str) -> str:
    async with aiohttp.ClientSession() as http:
        body = {"username": "admin", "password": password}
        async with http.post(f"{url}/api/v1/auth/login", json=body) as response:
            return str((await response.json())["access_token"])


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
