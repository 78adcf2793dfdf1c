"""A real Prometheus (Debian's) scrapes `/metrics` with a `metrics` API key and answers the
scraped series back over its own query API; `promtool` lints the exposition; `homei top`
prints the figures. The daemon reads the Jetson sysfs test double (tests/.../sysfs.py)."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.component.monitor.sysfs import write_jetson_sysfs
from tests.component.test_cli import homei_cli
from tests.daemon_process import HomeiProcess, free_port, start_homei
from tests.processes import wait_for

DEADLINE = 60.0
# The names seed 001 fixes: gauges called `_total`, which promtool takes for counters.
SEED_NAMES = ("homei_services_total", "homei_containers_total")
# node_exporter's own names for /proc/meminfo's fields keep their camelCase.
NODE_EXPORTER_CAMEL_CASE = "node_memory_"


@pytest.fixture(scope="module")
def homei(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeiProcess]:
    sysfs = write_jetson_sysfs(tmp_path_factory.mktemp("sys"))
    process = start_homei(
        tmp_path_factory.mktemp("homei"),
        HOMEI_MONITOR__INTERVAL="0.5",
        HOMEI_MONITOR__SYSFS_ROOT=str(sysfs),
    )
    try:
        yield process
    finally:
        process.stop()


def metrics_key(homei: HomeiProcess) -> str:
    status, body = homei.request(
        "POST", "/api/v1/auth/keys", {"name": "prometheus", "role": "metrics"}, homei.login()
    )
    assert status == 201, body
    return str(body["key"])


def scrape(homei: HomeiProcess, key: str) -> str:
    request = urllib.request.Request(
        f"{homei.url}/metrics", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(response.read().decode())


@pytest.fixture(scope="module")
def prometheus(homei: HomeiProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus on loopback scraping the daemon every second; its URL."""
    directory = tmp_path_factory.mktemp("prometheus")
    (directory / "key").write_text(metrics_key(homei))
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {
                "job_name": "homei",
                "authorization": {"type": "Bearer", "credentials_file": str(directory / "key")},
                "static_configs": [{"targets": [f"127.0.0.1:{homei.port}"]}],
            }
        ],
    }
    (directory / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    log = (directory / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def query(url: str, expression: str) -> list[dict[str, Any]]:
    """The instant vector Prometheus answers for `expression` (empty if it cannot yet)."""
    address = f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expression})}"
    try:
        with urllib.request.urlopen(address, timeout=5) as response:
            body = json.load(response)
    except OSError:
        return []
    return list(body["data"]["result"]) if body.get("status") == "success" else []


def test_prometheus_scrapes_node_and_seed_series(prometheus: str, homei: HomeiProcess):
    def log() -> AssertionError:
        return AssertionError(f"Prometheus did not get the series:\n{homei.log()[-3000:]}")

    wait_for(lambda: bool(query(prometheus, 'up{job="homei"} == 1')), DEADLINE, log)
    wait_for(lambda: bool(query(prometheus, "node_load1")), DEADLINE, log)
    services = query(prometheus, "homei_services_total")
    enabled = {r["metric"]["enabled"]: r["value"][1] for r in services}
    assert enabled == {"true": "0", "false": "0"}
    total = query(prometheus, 'node_memory_MemTotal_bytes{job="homei"}')
    assert float(total[0]["value"][1]) == float(Path("/proc/meminfo").read_text().split()[1]) * 1024
    mounts = {r["metric"]["mountpoint"] for r in query(prometheus, "node_filesystem_avail_bytes")}
    assert "/" in mounts
    cpu = query(prometheus, 'node_cpu_seconds_total{cpu="0",mode="idle"}')
    assert float(cpu[0]["value"][1]) > 0
    devices = {r["metric"]["device"] for r in query(prometheus, "node_network_receive_bytes_total")}
    assert "lo" in devices
    containers = {r["metric"]["status"] for r in query(prometheus, "homei_containers_total")}
    assert {"running", "exited"} <= containers
    thermal = query(prometheus, "node_thermal_zone_temp")
    zones = {r["metric"]["zone"]: r["value"][1] for r in thermal}
    assert zones == {"CPU-therm": "45.5", "GPU-therm": "41.25"}


def test_promtool_finds_only_the_seed_names(homei: HomeiProcess):
    text = scrape(homei, metrics_key(homei))
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert problems, "promtool is expected to name the seed's gauges"
    assert {line.split()[0] for line in problems} >= set(SEED_NAMES)
    for line in problems:
        name = line.split()[0]
        is_node_name = name.startswith(NODE_EXPORTER_CAMEL_CASE) and "camelCase" in line
        assert name in SEED_NAMES or is_node_name, line


def test_homei_top_once(homei: HomeiProcess, tmp_path: Path):
    login = homei_cli(tmp_path, "login", "--url", homei.url, "--password-stdin",
                      stdin=homei.admin_password)  # fmt: skip
    assert login.returncode == 0, login.stderr
    top = homei_cli(tmp_path, "top", "--once")
    assert top.returncode == 0, top.stderr
    lines = top.stdout.splitlines()
    assert lines[1].startswith("CPU") and lines[2].startswith("Memory")
    assert any(line.startswith("Disk") and " /: " in line for line in lines)
    assert "Temp   CPU-therm        45.5 C" in lines and "GPU     34.5%" in lines
    assert "Power  VDD_IN           6.05 W" in lines
    as_json = homei_cli(tmp_path, "top", "--once", "--json")
    assert json.loads(as_json.stdout)["metrics"]["gpu_load"] == 34.5
