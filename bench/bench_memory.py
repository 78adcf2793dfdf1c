"""Homei's memory under a long stream of varied requests: does its RSS settle?

One `homei serve` runs with rate limits on (limits raised so nothing is refused, but every
client still gets its counters) and the failed-login delay lifted. Set-up: `--users`
accounts, `--logins` logins among them (each a refresh session) and `--keys` API keys. Then
`--requests` requests from `--addresses` loopback source addresses (127.0.x.y; each
connection sends a few requests, then the next one comes from another address), mixing:

- reads with an access token from a growing pool (every refresh adds one);
- reads with an API key, and with made-up API keys and made-up tokens (401);
- refreshes, which rotate a session's refresh token and bring a new access token;
- tasks created (`database_check`, beyond the task retention), health probes, unknown
  routes (404) and a few failed logins.

VmRSS is read at the start (after one login and one read, as `bench_core.py` reads its
idle RSS), when set-up is done and the daemon idle, after the first fifth of the requests
and at the end; the ratio of the last two shows whether memory settles (target at most
1.1x), and the end over the start what the whole run cost. Everything listens on
127.0.0.1, runs in a temp dir and stops by itself. Results are printed and written to
`bench/results/memory.json`.

    .venv/bin/python bench/bench_memory.py [--requests 100000] [--addresses 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from bench_core import BENCH_DIR, HOST, Server, homei_server, precompile_homei, running, vm_rss_mib

RESULTS_FILE = BENCH_DIR / "results" / "memory.json"
SETTLE_TARGET = 1.1
IDLE_S = 1.5
PER_CONNECTION = 10
WORKERS = 16
TOKEN_POOL = 5000
PASSWORD = "bench-password"
LIMIT = "100000000"


@dataclass
class Pools:
    """What the clients send, grown as the run goes."""

    tokens: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=TOKEN_POOL)
    )
    sessions: list[str] = field(default_factory=list)  # the newest refresh token of each
    refreshing: set[int] = field(default_factory=set)
    refreshes: int = 0
    keys: list[str] = field(default_factory=list)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)


def memory_server(homei: str, data_dir: Path) -> Server:
    """`homei serve` with every rate limit on but out of reach, failed logins not delayed."""
    base = homei_server(homei, data_dir, "/api/v1/tasks")
    limits = {
        f"HOMEI_RATE_LIMITS__{name}": LIMIT
        for name in ("ANONYMOUS", "AUTHENTICATED", "ADMIN", "HEALTH", "SERVICES", "BACKUPS")
    }
    env = {
        **base.env,
        **limits,
        "HOMEI_RATE_LIMITS__ENABLED": "true",
        "HOMEI_AUTH__LOGIN_FREE_ATTEMPTS": LIMIT,
    }
    return Server(base.name, base.argv, env, base.load_path)


async def call(
    session: aiohttp.ClientSession, method: str, url: str, pools: Pools, **kw: object
) -> dict[str, object] | None:
    """One request; counts its status and returns its JSON body when it has one."""
    async with session.request(method, url, **kw) as response:  # type: ignore[arg-type]
        pools.statuses[response.status] += 1
        body = await response.read()
        if response.content_type == "application/json" and response.status < 300:
            decoded: dict[str, object] = json.loads(body)
            return decoded
        return None


async def warm_up(base: str, admin_password: str, pools: Pools) -> None:
    """What `bench_core.py` does before it reads the idle RSS: one login, one read."""
    async with aiohttp.ClientSession() as session:
        login = {"username": "admin", "password": admin_password}
        body = await call(session, "POST", f"{base}/api/v1/auth/login", pools, json=login)
        assert body is not None, "admin login failed"
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        await call(session, "GET", f"{base}/api/v1/tasks", pools, headers=headers)


async def set_up(base: str, admin_password: str, args: argparse.Namespace, pools: Pools) -> None:
    async with aiohttp.ClientSession() as session:
        login = {"username": "admin", "password": admin_password}
        body = await call(session, "POST", f"{base}/api/v1/auth/login", pools, json=login)
        assert body is not None, "admin login failed"
        admin = {"Authorization": f"Bearer {body['access_token']}"}
        for index in range(args.users):
            user = {"username": f"user{index}", "password": PASSWORD,
                    "role": ("viewer", "operator", "admin")[index % 3]}  # fmt: skip
            await call(session, "POST", f"{base}/api/v1/users", pools, json=user, headers=admin)
        for index in range(args.logins):
            login = {"username": f"user{index % args.users}", "password": PASSWORD}
            body = await call(session, "POST", f"{base}/api/v1/auth/login", pools, json=login)
            assert body is not None, "login failed"
            pools.tokens.append(str(body["access_token"]))
            pools.sessions.append(str(body["refresh_token"]))
        for index in range(args.keys):
            key = {"name": f"key-{index}"}
            body = await call(
                session, "POST", f"{base}/api/v1/auth/keys", pools, json=key, headers=admin
            )
            assert body is not None, "key creation failed"
            pools.keys.append(str(body["key"]))


async def one_request(
    session: aiohttp.ClientSession, base: str, pools: Pools, rng: random.Random
) -> None:
    """A request drawn from the mix in the module's docstring."""
    roll = rng.random()

    def bearer(value: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {value}"}

    if roll < 0.40:
        token = rng.choice(pools.tokens)
        await call(session, "GET", f"{base}/api/v1/tasks?limit=5", pools, headers=bearer(token))
    elif roll < 0.55:
        key = rng.choice(pools.keys)
        await call(session, "GET", f"{base}/api/v1/auth/me", pools, headers=bearer(key))
    elif roll < 0.65:
        made_up = f"hk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
        await call(session, "GET", f"{base}/api/v1/tasks", pools, headers=bearer(made_up))
    elif roll < 0.75:
        made_up = (
            f"{secrets.token_urlsafe(24)}.{secrets.token_urlsafe(64)}.{secrets.token_urlsafe(32)}"
        )
        await call(session, "GET", f"{base}/api/v1/auth/me", pools, headers=bearer(made_up))
    elif roll < 0.80:
        await call(session, "GET", f"{base}/health", pools)
    elif roll < 0.85:
        await call(session, "GET", f"{base}/api/v1/nothing/{secrets.token_hex(8)}", pools)
    elif roll < 0.92:
        index = rng.randrange(len(pools.sessions))
        if index in pools.refreshing:
            return  # a refresh token works once: two clients never share a session
        pools.refreshing.add(index)
        try:
            refresh = {"refresh_token": pools.sessions[index]}
            body = await call(session, "POST", f"{base}/api/v1/auth/refresh", pools, json=refresh)
        finally:
            pools.refreshing.discard(index)
        if body is not None:
            pools.refreshes += 1
            pools.sessions[index] = str(body["refresh_token"])
            pools.tokens.append(str(body["access_token"]))
    elif roll < 0.94:
        token = rng.choice(pools.tokens)
        task = {"type": "database_check", "config": {"note": secrets.token_hex(16)}}
        await call(session, "POST", f"{base}/api/v1/tasks", pools, json=task, headers=bearer(token))
    elif roll < 0.998:
        token = rng.choice(pools.tokens)
        await call(session, "GET", f"{base}/api/v1/auth/keys", pools, headers=bearer(token))
    else:
        wrong = {"username": f"user{rng.randrange(10)}", "password": "not-the-password"}
        await call(session, "POST", f"{base}/api/v1/auth/login", pools, json=wrong)


async def drive(base: str, count: int, addresses: list[str], pools: Pools, seed: int) -> float:
    """Send `count` requests from `WORKERS` clients; returns the seconds it took."""
    remaining = count
    rng = random.Random(seed)

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            connector = aiohttp.TCPConnector(local_addr=(rng.choice(addresses), 0), limit=1)
            async with aiohttp.ClientSession(connector=connector) as session:
                for _ in range(min(PER_CONNECTION, remaining)):
                    remaining -= 1
                    await one_request(session, base, pools, rng)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--addresses", type=int, default=2000)
    parser.add_argument("--users", type=int, default=12)
    parser.add_argument("--logins", type=int, default=60)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument(
        "--homei",
        default=str(Path(sys.executable).with_name("homei")),
        help="the `homei` command to measure (default: this environment's)",
    )
    args = parser.parse_args()
    precompile_homei()
    homei = args.homei
    addresses = [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(args.addresses)]
    first = args.requests // 5
    pools = Pools()
    with tempfile.TemporaryDirectory(prefix="homei-bench-memory-") as temp:
        work = Path(temp)
        data = work / "homei"
        data.mkdir()
        with running(memory_server(homei, data), work) as live:
            base = f"http://{HOST}:{live.port}"
            admin_password = (data / "initial-admin-password").read_text().strip()
            asyncio.run(warm_up(base, admin_password, pools))
            time.sleep(IDLE_S)
            start = vm_rss_mib(live.proc.pid)
            asyncio.run(set_up(base, admin_password, args, pools))
            time.sleep(IDLE_S)
            idle = vm_rss_mib(live.proc.pid)
            first_s = asyncio.run(drive(base, first, addresses, pools, 1))
            after_first = vm_rss_mib(live.proc.pid)
            rest_s = asyncio.run(drive(base, args.requests - first, addresses, pools, 2))
            after_all = vm_rss_mib(live.proc.pid)
    settle = after_all / after_first
    result = {
        "requests": args.requests,
        "addresses": args.addresses,
        "api_keys": args.keys,
        "sessions": args.logins,
        "refreshes": pools.refreshes,
        "requests_per_s": args.requests / (first_s + rest_s),
        "rss_start_mib": start,
        "rss_idle_mib": idle,
        f"rss_after_{first}_mib": after_first,
        f"rss_after_{args.requests}_mib": after_all,
        "settle_ratio": settle,
        "growth_over_start": after_all / start,
        "statuses": dict(sorted(pools.statuses.items())),
    }
    print(f"requests: {args.requests} from {args.addresses} addresses,"
          f" {result['requests_per_s']:.0f}/s, {pools.refreshes} refreshes;"
          f" statuses {result['statuses']}")  # fmt: skip
    print(f"RSS at start {start:.1f} MiB, idle after set-up {idle:.1f} MiB, after {first}"
          f" {after_first:.1f} MiB, after {args.requests} {after_all:.1f} MiB")  # fmt: skip
    print(f"settle ratio (end / after {first}) {settle:.2f}x (target <= {SETTLE_TARGET}x);"
          f" end / start {after_all / start:.2f}x")  # fmt: skip
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if settle <= SETTLE_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
