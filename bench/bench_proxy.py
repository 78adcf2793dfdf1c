"""A new route through Homei's API against a reload of Caddy's whole config, in one run.

A private Docker engine runs `--routes` small web services, each published on a loopback
port and served by a domain in Caddy. Then, `--rounds` times:

- Homei: `PUT /api/v1/services/{name}` gives a service a new domain; the time until Caddy
  answers that domain with the service's page (Homei's task, its event, one PATCH of one
  route through the admin API).
- Anchor: a second Caddy holding the same routes is handed, with `caddy reload`, a JSON
  config holding the same routes and the new one; the time until it answers the new domain.

Both are timed from the same client, polling every 2 ms. Medians and their ratio are printed
and written to `bench/results/proxy.json`.

    .venv/bin/python bench/bench_proxy.py [--routes 10] [--rounds 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_core import BENCH_DIR, homei_server, login, precompile_homei, running
from harness import BenchError, http_request

sys.path.insert(0, str(BENCH_DIR.parent))
from tests.caddy_env import SERVER, CaddyServer
from tests.daemon_process import free_port
from tests.docker_env import IMAGE, DockerEngine

RESULTS_FILE = BENCH_DIR / "results" / "proxy.json"
PAGE = "homei test image\n"
DEADLINE_S = 30.0


def until_answers(caddy: CaddyServer, host: str) -> float:
    """Seconds until `host` answers with the page through `caddy`."""
    started = time.perf_counter()
    while caddy.fetch(host) != (200, PAGE):
        if time.perf_counter() - started > DEADLINE_S:
            raise BenchError(f"{host} did not answer through Caddy within {DEADLINE_S:.0f} s")
        time.sleep(0.002)
    return time.perf_counter() - started


def call(port: int, token: str, method: str, path: str, body: Any, status: int) -> Any:
    got, text = http_request(port, method, path, body, {"Authorization": f"Bearer {token}"})
    if got != status:
        raise BenchError(f"{method} {path} answered {got}: {text[:300]!r}")
    return json.loads(text)


def wait_task(port: int, token: str, task_id: str) -> None:
    started = time.perf_counter()
    while time.perf_counter() - started < DEADLINE_S:
        task = call(port, token, "GET", f"/api/v1/tasks/{task_id}", None, 200)
        if task["status"] == "completed":
            return
        if task["status"] in ("failed", "cancelled"):
            raise BenchError(f"task {task_id} {task['status']}: {task}")
        time.sleep(0.02)
    raise BenchError(f"task {task_id} did not finish")


def route(domain: str, port: int) -> dict[str, Any]:
    return {
        "match": [{"host": [domain]}],
        "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": f"127.0.0.1:{port}"}]}],
        "terminal": True,
    }


def reload_anchor(anchor: CaddyServer, routes: list[dict[str, Any]], work: Path) -> None:
    config = json.loads(anchor.config.read_text())
    config["apps"]["http"]["servers"][SERVER]["routes"] = routes
    path = work / "anchor-reload.json"
    path.write_text(json.dumps(config))
    subprocess.run(
        ["caddy", "reload", "--config", str(path), "--address", f"127.0.0.1:{anchor.admin_port}"],
        check=True,
        capture_output=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    precompile_homei()
    homei = str(Path(sys.executable).with_name("homei"))
    with tempfile.TemporaryDirectory(prefix="homei-bench-proxy-") as temp:
        work = Path(temp)
        engine = DockerEngine(work / "docker").up()
        caddy = CaddyServer(work / "caddy").up()
        anchor = CaddyServer(work / "anchor").up()
        try:
            engine.make_image()
            server = homei_server(homei, work / "homei", "/api/v1/services")
            env = {
                **server.env,
                "HOMEI_DOCKER__URL": engine.host,
                "HOMEI_PROXY__ADMIN_URL": caddy.admin_url,
                "HOMEI_PROXY__SERVER_NAME": SERVER,
            }
            server = type(server)(server.name, server.argv, env, server.load_path)
            (work / "homei").mkdir()
            with running(server, work / "homei") as live:
                password = (work / "homei" / "initial-admin-password").read_text().strip()
                token = login(live.port, password)
                ports = [free_port() for _ in range(args.routes)]
                for index, port in enumerate(ports):
                    body = {
                        "name": f"web{index}",
                        "image": IMAGE,
                        "command": ["httpd", "-f", "-p", "8080", "-h", "/var/www"],
                        "ports": [f"127.0.0.1:{port}:8080"],
                        "domain": f"web{index}.local",
                        "stop_timeout": 1,
                    }
                    accepted = call(live.port, token, "POST", "/api/v1/services", body, 202)
                    wait_task(live.port, token, accepted["taskId"])
                for index in range(args.routes):
                    until_answers(caddy, f"web{index}.local")
                routes = [route(f"web{i}.local", port) for i, port in enumerate(ports)]
                reload_anchor(anchor, routes, work)
                homei_s, anchor_s = [], []
                for n in range(args.rounds):
                    domain = f"new{n}.local"
                    started = time.perf_counter()
                    call(live.port, token, "PUT", "/api/v1/services/web0", {"domain": domain}, 202)
                    until_answers(caddy, domain)
                    homei_s.append(time.perf_counter() - started)
                    routes[0] = route(domain, ports[0])
                    started = time.perf_counter()
                    reload_anchor(anchor, routes, work)
                    until_answers(anchor, domain)
                    anchor_s.append(time.perf_counter() - started)
        finally:
            anchor.down()
            caddy.down()
            engine.down()
    homei_ms = statistics.median(homei_s) * 1000
    anchor_ms = statistics.median(anchor_s) * 1000
    result = {
        "routes": args.routes,
        "rounds": args.rounds,
        "homei_ms": homei_ms,
        "caddy_reload_ms": anchor_ms,
        "ratio": homei_ms / anchor_ms,
    }
    print(f"routes: {args.routes}, rounds: {args.rounds}")
    print(
        f"new route answering: Homei's API {homei_ms:.1f} ms, caddy reload {anchor_ms:.1f} ms"
        f" -> {result['ratio']:.2f}x"
    )
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
