"""Store migrations, the event bus, tokens, password hashes and the watchdog."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time

import jwt
import pytest

from homei.core.auth import TokenIssuer, hash_password, verify_password
from homei.core.errors import Unauthorized
from homei.core.events import EventBus, SubscriptionClosed
from homei.core.store import Migration, Store
from homei.core.watchdog import LoopMonitor, Notifier, Watchdog, watchdog_interval


async def test_a_failing_migration_leaves_the_last_whole_step(tmp_path):
    path = tmp_path / "homei.db"
    good = Migration("demo", 1, "CREATE TABLE a (x INTEGER)")
    bad = Migration("demo", 2, "CREATE TABLE b (y INTEGER); INSERT INTO nope VALUES (1)")
    with pytest.raises(sqlite3.OperationalError):
        await Store.open(path, [good, bad])
    store = await Store.open(path, [good])
    tables = {r[0] for r in await store.fetch_all("SELECT name FROM sqlite_master")}
    assert "a" in tables and "b" not in tables
    await store.close()
    fixed = Migration("demo", 2, "CREATE TABLE b (y INTEGER)")
    store = await Store.open(path, [good, fixed])
    versions = await store.fetch_all("SELECT version FROM schema_migrations WHERE component='demo'")
    assert [r[0] for r in versions] == [1, 2]
    assert (await store.fetch_one("PRAGMA journal_mode"))[0] == "wal"
    assert (await store.fetch_one("PRAGMA synchronous"))[0] == 2  # FULL
    await store.close()


async def test_transaction_is_all_or_nothing(tmp_path):
    store = await Store.open(
        tmp_path / "t.db", [Migration("t", 1, "CREATE TABLE t (x INTEGER UNIQUE)")]
    )
    with pytest.raises(sqlite3.IntegrityError):
        await store.transaction(
            [("INSERT INTO t VALUES (1)", ()), ("INSERT INTO t VALUES (1)", ())]
        )
    assert (await store.fetch_one("SELECT COUNT(*) FROM t"))[0] == 0
    await store.close()


async def test_bus_filters_and_drops_a_subscriber_that_falls_behind():
    bus = EventBus(queue_size=2)
    tasks = bus.subscribe(["task:*"])
    everything = bus.subscribe()
    bus.publish("service:started", {"service": "a"})
    bus.publish("task:progress", {"progress": 1})
    assert (await tasks.get()).type == "task:progress"
    assert (await everything.get()).type == "service:started"
    for _ in range(5):
        bus.publish("task:progress", {})
    assert everything.overflowed and tasks.overflowed
    assert bus.subscriber_count == 0 and bus.dropped_subscribers == 2
    # What was queued is still delivered, then the subscription ends.
    await everything.get()
    await everything.get()
    with pytest.raises(SubscriptionClosed):
        await everything.get()


def test_tokens_expire_and_keep_their_type():
    issuer = TokenIssuer(b"k" * 64, access_ttl=60)
    pair = issuer.issue("user-1", "ann", "viewer", 3, family="f1", refresh_id="r1")
    claims = issuer.decode(pair.access_token)
    assert (claims.user_id, claims.token_version) == ("user-1", 3)
    with pytest.raises(Unauthorized):
        issuer.decode(pair.refresh_token, "access")
    expired = jwt.encode(
        {"sub": "u", "ver": 1, "typ": "access", "iss": "homei", "exp": int(time.time()) - 5},
        b"k" * 64,
        algorithm="HS256",
    )
    with pytest.raises(Unauthorized, match="expired"):
        issuer.decode(expired)
    with pytest.raises(Unauthorized):
        issuer.decode(pair.access_token[:-2] + "xx")


def test_password_hash_round_trip():
    encoded = hash_password("correct horse")
    assert encoded.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct horsf", encoded)
    assert not verify_password("x", "bcrypt$whatever")
    assert not verify_password("x", "garbage")


def test_watchdog_interval_from_the_environment():
    assert watchdog_interval({"WATCHDOG_USEC": "10000000"}) == 5.0
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}) is None


async def test_watchdog_withholds_the_pet_while_a_check_fails(tmp_path):
    path = tmp_path / "notify"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(path))
    receiver.setblocking(False)
    healthy = True

    async def database() -> None:
        if not healthy:
            raise RuntimeError("database is gone")

    monitor = LoopMonitor(interval=0.05)
    monitor.start()
    watchdog = Watchdog(Notifier({"NOTIFY_SOCKET": str(path)}), 0.05, monitor)
    watchdog.add_check("database", database)
    loop = asyncio.get_running_loop()

    async def pets(seconds: float) -> int:
        count = 0
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            try:
                message = await asyncio.wait_for(
                    loop.sock_recv(receiver, 4096), deadline - loop.time()
                )
            except TimeoutError:
                break
            count += message.count(b"WATCHDOG=1")
        return count

    watchdog.start()
    try:
        assert await pets(0.5) >= 3
        healthy = False
        await asyncio.sleep(0.1)  # a pet already on its way may still arrive
        await pets(0.1)
        assert await pets(0.5) == 0
        assert watchdog.last_failure == "database: database is gone"
        healthy = True
        assert await pets(0.5) >= 3
    finally:
        await watchdog.stop()
        await monitor.stop()
        receiver.close()
