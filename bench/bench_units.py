"""Start-to-active of a systemd unit through Homei's API against `systemctl start` on the
same unit, in one run.

A real systemd boots as PID 1 in a container of a private Docker engine (tests/systemd_env.py)
and `homei serve` drives it over its bind-mounted bus. One native service runs a small
program (`exec sleep`, so the unit is active as soon as systemd has started it). Each round
stops the unit, then times `POST /api/v1/services/NAME/start` (which answers once systemd's
start job has finished) from the client; and stops it again and times `systemctl start` on
the same unit inside the container (timed there, so `docker exec`'s own cost is left out).
Also timed: one HTTP round trip to Homei (`GET /health/live`). Medians are reported;
the target is Homei within 1.2x of `systemctl start` plus one round trip. Results go to
`bench/results/units.json`.

    .venv/bin/python bench/bench_units.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from tests.daemon_process import HomeiProcess, start_homei  # noqa: E402
from tests.docker_env import DockerEngine  # noqa: E402
from tests.processes import wait_for  # noqa: E402
from tests.systemd_env import SystemdContainer  # noqa: E402

RESULTS_FILE = BENCH_DIR / "results" / "units.json"
UNIT = "homei-svc-idle.service"
TARGET = 1.2


def timed_post(homei: HomeiProcess, token: str, path: str) -> float:
    """Seconds for one POST answered 200."""
    request = urllib.request.Request(  # noqa: S310
        f"{homei.url}{path}", method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (http only)
        response.read()
        assert response.status == 200, response.status
    return time.perf_counter() - started


def round_trip(homei: HomeiProcess) -> float:
    """Seconds for one GET of the liveness probe."""
    started = time.perf_counter()
    with urllib.request.urlopen(f"{homei.url}/health/live", timeout=30) as response:  # noqa: S310
        response.read()
    return time.perf_counter() - started


def systemctl_start(box: SystemdContainer) -> float:
    """Seconds `systemctl start` took, timed inside the container."""
    out = box.exec(
        "sh", "-c", f"a=$(date +%s%N); systemctl start {UNIT}; b=$(date +%s%N); echo $((b-a))"
    ).stdout
    return int(out.strip().splitlines()[-1]) / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="homei-bench-units-"))
    # Not under /tmp (the unit has a private one), and open to the unit's dynamic user.
    shared = Path(tempfile.mkdtemp(prefix="bench-", dir=BENCH_DIR.parent / "var"))
    shared.chmod(0o755)
    program = shared / "idle"
    program.write_text("#!/bin/sh\nexec sleep 100000\n")
    program.chmod(0o755)
    engine = DockerEngine(work / "docker").up()
    try:
        box = SystemdContainer(engine, work / "systemd", shared=[program.parent]).up()
        (work / "homei").mkdir()
        (work / "homei" / "none.toml").write_text(
            "[units]\n"
            f'dbus_address = "{box.bus_address}"\n'
            f'unit_dir = "{box.unit_dir}"\n'
            f'journal_dir = "{box.journal_dir}"\n'
            f'exec_roots = ["{program.parent}"]\n'
        )
        homei = start_homei(
            work / "homei",
            HOMEI_RATE_LIMITS__ENABLED="false",
            HOMEI_DOCKER__URL=box.engine.host,
        )
        try:
            token = homei.login()
            body = {"name": "idle", "runtime": "systemd", "exec": str(program)}
            status, answer = homei.request("POST", "/api/v1/services", body, token=token)
            assert status == 202, answer
            wait_for(
                lambda: box.systemctl("is-active", UNIT, check=False).stdout.strip() == "active",
                60,
                lambda: RuntimeError(f"the unit did not start:\n{homei.log()[-2000:]}"),
            )
            api, anchor, trips = [], [], []
            for _ in range(args.rounds):
                timed_post(homei, token, "/api/v1/services/idle/stop")
                api.append(timed_post(homei, token, "/api/v1/services/idle/start"))
                timed_post(homei, token, "/api/v1/services/idle/stop")
                anchor.append(systemctl_start(box))
                trips.append(round_trip(homei))
            # Leave it as Homei wants it, so its reconciler has nothing to do afterwards.
            timed_post(homei, token, "/api/v1/services/idle/start")
        finally:
            homei.stop()
        box.down()
    finally:
        engine.down()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(shared, ignore_errors=True)
    api_ms, anchor_ms, trip_ms = (1000 * statistics.median(v) for v in (api, anchor, trips))
    budget_ms = TARGET * anchor_ms + trip_ms
    result = {
        "rounds": args.rounds,
        "homei_start_ms": api_ms,
        "systemctl_start_ms": anchor_ms,
        "http_round_trip_ms": trip_ms,
        "budget_ms": budget_ms,
        "within_target": api_ms <= budget_ms,
    }
    print(
        f"start-to-active: Homei API {api_ms:.1f} ms, systemctl start {anchor_ms:.1f} ms, "
        f"HTTP round trip {trip_ms:.1f} ms -> budget {budget_ms:.1f} ms "
        f"({'within' if api_ms <= budget_ms else 'OVER'} 1.2x + one round trip)"
    )
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
