"""Store migrations, the event bus, tokens and password hashes."""

from __future__ import annotations

import sqlite3
import time

import jwt
import pytest

from homei.core.auth import TokenIssuer, hash_password, verify_password
from homei.core.errors import Unauthorized
from homei.core.events import EventBus, SubscriptionClosed
from homei.core.store import Migration, Store


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
