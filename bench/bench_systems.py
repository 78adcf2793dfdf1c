"""The systems registry's SSH side, in one run: `--systems` real sshd on loopback.

1. Start-up of the test servers (`tests/ssh_env.py`), which the jobs' benchmark also uses.
2. The connection test (`POST /api/v1/systems/{id}/test`'s code) on every system at once:
   each a fresh connection, a password login and three commands.
3. `uname -a` on every system at once over the connections the tests left open (pooled).
4. The process's RSS before and after, with every connection open.

Results are printed and written to `bench/results/systems.json`.

    .venv/bin/python bench/bench_systems.py [--systems 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from homei.app import build  # noqa: E402
from homei.jobs.execution import Stream  # noqa: E402
from homei.jobs.systems import SystemChanges  # noqa: E402
from tests.component.jobs.conftest import SYSTEMS_TOML  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.ssh_env import TEST_PASSWORD, TEST_USER, SshServer, ssh_env  # noqa: E402

RESULTS_FILE = BENCH_DIR / "results" / "systems.json"


def rss_mib() -> float:
    """This process's resident memory."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


async def measure(servers: list[SshServer], work: Path) -> dict[str, float]:
    _, components = await build(await asyncio.to_thread(make_settings, work, SYSTEMS_TOML))
    parts = components.systems
    ids = []
    for server in servers:
        system_id = f"00000000-0000-4000-8000-{server.port:012d}"
        row = await parts.credentials.password_row(system_id, TEST_PASSWORD)
        changes = SystemChanges(
            name=f"bench-{server.port}",
            hostname="127.0.0.1",
            port=server.port,
            username=TEST_USER,
            auth_method="password",
        )
        await parts.systems.create(changes, row, system_id=system_id)
        ids.append(system_id)

    async def discard(stream: Stream, text: str) -> None:
        pass

    rss_before = rss_mib()
    started = time.perf_counter()
    tests = await asyncio.gather(*(parts.ssh.probe(i) for i in ids))
    tested = time.perf_counter() - started
    failed = [t.error for t in tests if not t.success]
    if failed:
        raise RuntimeError(f"{len(failed)} tests failed: {failed[:3]}")
    started = time.perf_counter()
    runs = await asyncio.gather(
        *(parts.ssh.run(i, "uname -a", env={}, output=discard) for i in ids)
    )
    ran = time.perf_counter() - started
    if any(r.exit_code != 0 for r in runs):
        raise RuntimeError("uname -a failed somewhere")
    result = {
        "test_all_seconds": round(tested, 3),
        "uname_pooled_seconds": round(ran, 3),
        "rss_before_mib": round(rss_before, 1),
        "rss_connected_mib": round(rss_mib(), 1),
    }
    await parts.stop()
    await components.store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ssh_env(Path(tmp) / "sshd") as env:
        started = time.perf_counter()
        servers = env.start_many(args.systems)
        result = {
            "systems": args.systems,
            "sshd_start_seconds": round(time.perf_counter() - started, 3),
        }
        (Path(tmp) / "homei").mkdir()
        result.update(asyncio.run(measure(servers, Path(tmp) / "homei")))
    print(json.dumps(result, indent=2))
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
