"""Reading a service's configuration (50 variables, 20 secrets, every secret opened) through
the configuration store, against reading the same data as plain JSON from SQLite.

Both read one row of the same database file through the same `Store` (aiosqlite) and decode
its JSON. The store also opens 20 AES-256-GCM sealed values (on a worker thread, as the
daemon does). `cold`: the store's in-memory copy of the newest version is dropped before
each read, so every read goes to SQLite as the plain one does (the target: within 2x);
`warm`: as the daemon reads a configuration it has read before. Medians of `--reads` reads,
the two kinds interleaved so that a busy moment of the machine falls on both alike.
Results are printed and written to `bench/results/config.json`.

    .venv/bin/python bench/bench_config.py [--reads 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import msgspec

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from homei.config import keys  # noqa: E402
from homei.config import service_config as schema  # noqa: E402
from homei.config.keys import DeviceKey  # noqa: E402
from homei.config.service_config import ServiceConfigs  # noqa: E402
from homei.core.store import Migration, Store  # noqa: E402

RESULTS_FILE = BENCH_DIR / "results" / "config.json"
TARGET_RATIO = 2.0
PLAIN = Migration("bench_plain", 1, "CREATE TABLE plain (service TEXT PRIMARY KEY, data TEXT)")


async def run(reads: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        store = await Store.open(
            Path(folder) / "bench.db", (*keys.MIGRATIONS, *schema.MIGRATIONS, PLAIN)
        )
        try:
            return await measure(store, reads)
        finally:
            await store.close()


async def measure(store: Store, reads: int) -> dict[str, float]:
    variables = {f"VARIABLE_{i:02d}": f"value-{i}-" + "x" * 24 for i in range(50)}
    secrets = {f"SECRET_{i:02d}": f"s3cr3t-{i}-" + "y" * 32 for i in range(20)}
    configs = ServiceConfigs(store, DeviceKey.generate())
    await configs.put("media", "production", variables, secrets, actor="bench")
    body = msgspec.json.encode({"variables": variables, "secrets": secrets}).decode()
    await store.execute("INSERT INTO plain (service, data) VALUES (?, ?)", ("media", body))
    decode = msgspec.json.Decoder(dict[str, dict[str, str]])

    async def plain() -> None:
        row = await store.fetch_one("SELECT data FROM plain WHERE service = ?", ("media",))
        assert row is not None
        assert len(decode.decode(row["data"])["secrets"]) == 20

    async def cold() -> None:
        configs.invalidate()
        await warm()

    async def warm() -> None:
        config = await configs.get("media", include_secrets=True)
        assert config.secrets["SECRET_00"].startswith("s3cr3t-0-")

    times: dict[str, list[float]] = {"plain": [], "cold": [], "warm": []}
    kinds = {"plain": plain, "cold": cold, "warm": warm}
    for index in range(reads + 20):
        for name, read in kinds.items():
            started = time.perf_counter()
            await read()
            if index >= 20:  # warm-up
                times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) * 1e6 for name, values in times.items()}
    return {
        "plain_us": round(medians["plain"], 1),
        "store_cold_us": round(medians["cold"], 1),
        "store_warm_us": round(medians["warm"], 1),
        "ratio_cold": round(medians["cold"] / medians["plain"], 2),
        "ratio_warm": round(medians["warm"] / medians["plain"], 2),
        "target_ratio": TARGET_RATIO,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=2000)
    args = parser.parse_args()
    results = asyncio.run(run(args.reads))
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    verdict = "within" if results["ratio_cold"] <= TARGET_RATIO else "OVER"
    print(
        f"store (cold) / plain JSON: {results['ratio_cold']}x, {verdict} the {TARGET_RATIO}x target"
    )


if __name__ == "__main__":
    main()
