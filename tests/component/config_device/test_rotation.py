"""Secret rotation on a real Docker engine, against a service whose own healthcheck reads
its secret file and fails on a value it does not accept: a good rotation is applied, a bad
one is rolled back (the service keeps running with the old value), a due schedule runs, and
one missed while the daemon was off runs once at its next start."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

from tests.component.config_device.conftest import StartHomei
from tests.component.services.env import call, install, reconciled, sleeper, until
from tests.conftest import Homei
from tests.docker_env import DockerEngine

SECRET_FILE = "/run/secrets/DB_PASSWORD"
# The service refuses any password with "bad" in it; digits-only new values never have it.
SCHEMA = {"DB_PASSWORD": {"secret": True, "rotation": {"length": 24, "alphabet": "0123456789"}}}
HEALTHCHECK = {
    "test": ["CMD-SHELL", f"test -s {SECRET_FILE} && ! grep -q bad {SECRET_FILE}"],
    "interval": "500ms",
    "timeout": "2s",
    "retries": 2,
}
FIRST = "first-good-value"


def guarded(name: str) -> dict[str, Any]:
    # A short grace: failed checks count as failures 1 s after the start, not 10 s.
    health = {"start_period": "1s", "interval": "500ms"}
    return sleeper(name, config_schema=SCHEMA, healthcheck=HEALTHCHECK, health=health)


def read_secret(engine: DockerEngine, name: str) -> str:
    return engine.run("exec", name, "cat", SECRET_FILE, check=False).stdout


async def _with_first_secret(homei: Homei, admin: dict[str, str], engine: DockerEngine) -> None:
    await install(homei, admin, guarded("db"))
    await call(homei, "PUT", "/api/v1/config/db", admin, json={"secrets": {"DB_PASSWORD": FIRST}})

    async def has_it() -> bool:
        await reconciled(homei, "db")
        return await asyncio.to_thread(read_secret, engine, "db") == FIRST

    await until(has_it, "the first secret in the container")


async def _events(ws: Any) -> list[dict[str, Any]]:
    seen = []
    while True:
        try:
            seen.append(await asyncio.wait_for(ws.receive_json(), 0.2))
        except TimeoutError:
            return seen


async def test_a_rotation_the_service_rejects_is_rolled_back(
    homei: Homei, engine: DockerEngine
) -> None:
    admin = await homei.auth()
    await _with_first_secret(homei, admin, engine)
    before = (await asyncio.to_thread(engine.inspect, "db"))["Id"]
    async with homei.client.ws_connect("/ws/events?types=secret:*", headers=admin) as ws:
        await ws.receive_json()  # `connected`
        failed = await call(
            homei, "POST", "/api/v1/config/db/secrets/DB_PASSWORD/rotate", admin, 409,
            json={"value": "a-bad-password"},
        )  # fmt: skip
        events = await _events(ws)
    error = failed["error"]
    assert error["code"] == "ROTATION_FAILED"
    assert "unhealthy" in error["details"]["reason"]
    assert error["details"]["version"] == 3  # 1: first, 2: the bad one, 3: the first again
    assert "a-bad-password" not in str(failed)
    assert [e["type"] for e in events] == ["secret:rotation_failed"]
    assert "a-bad-password" not in str(events)
    # The service runs with the old value, healthy, in a container made again from it.
    assert await asyncio.to_thread(read_secret, engine, "db") == FIRST
    details = await asyncio.to_thread(engine.inspect, "db")
    assert details["Id"] != before and details["State"]["Running"]
    assert details["State"]["Health"]["Status"] == "healthy"
    config = await call(homei, "GET", "/api/v1/config/db?includeSecrets=true", admin)
    assert config["secrets"] == {"DB_PASSWORD": FIRST} and config["version"] == 3


async def test_a_good_rotation_is_applied(homei: Homei, engine: DockerEngine) -> None:
    admin = await homei.auth()
    await _with_first_secret(homei, admin, engine)
    given = await call(
        homei, "POST", "/api/v1/config/db/secrets/DB_PASSWORD/rotate", admin,
        json={"value": "second-good-value"},
    )  # fmt: skip
    assert given == {
        "service": "db", "secret": "DB_PASSWORD", "environment": "production",
        "rotated": True, "version": 2, "nextRotation": None,
    }  # fmt: skip
    assert await asyncio.to_thread(read_secret, engine, "db") == "second-good-value"
    # Without a value: one made from the policy (24 digits).
    made = await call(homei, "POST", "/api/v1/config/db/secrets/DB_PASSWORD/rotate", admin)
    assert made["version"] == 3
    value = await asyncio.to_thread(read_secret, engine, "db")
    assert len(value) == 24 and value.isdigit()
    state = (await asyncio.to_thread(engine.inspect, "db"))["State"]
    assert state["Health"]["Status"] == "healthy"


async def test_unknown_secret_is_404(homei: Homei, engine: DockerEngine) -> None:
    admin = await homei.auth()
    await install(homei, admin, guarded("db"))
    body = await call(homei, "POST", "/api/v1/config/db/secrets/NOPE/rotate", admin, 404, json={})
    assert body["error"]["code"] == "SECRET_NOT_FOUND"


def _set_due(database: str, due: float) -> None:
    with sqlite3.connect(database) as db:
        db.execute("UPDATE secret_rotation SET next_due = ?", (due,))


def _schedule_row(database: str) -> tuple[float, str]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT next_due, last_result FROM secret_rotation").fetchone()  # type: ignore[no-any-return]


async def test_a_due_schedule_runs(homei: Homei, engine: DockerEngine) -> None:
    admin = await homei.auth()
    await _with_first_secret(homei, admin, engine)
    scheduled = await call(
        homei, "POST", "/api/v1/config/db/secrets/DB_PASSWORD/schedule", admin,
        json={"intervalDays": 30, "environment": "production"},
    )  # fmt: skip
    assert scheduled["intervalDays"] == 30 and scheduled["nextRotation"]
    await asyncio.to_thread(_set_due, str(homei.settings.database_path), time.time() - 3600)

    async def rotated() -> bool:
        return (await asyncio.to_thread(read_secret, engine, "db")).isdigit()

    await until(rotated, "the scheduled rotation applied")
    config = await call(homei, "GET", "/api/v1/config/db", admin)
    assert config["version"] == 2


async def test_a_rotation_missed_while_off_runs_once_at_start(
    start_homei: StartHomei, engine: DockerEngine
) -> None:
    homei = await start_homei()
    admin = await homei.auth()
    await _with_first_secret(homei, admin, engine)
    await call(
        homei, "POST", "/api/v1/config/db/secrets/DB_PASSWORD/schedule", admin,
        json={"intervalDays": 7},
    )  # fmt: skip
    await homei.client.close()
    # Off for three intervals: one rotation at the next start, not three.
    await asyncio.to_thread(_set_due, str(homei.settings.database_path), time.time() - 21 * 86400)
    again = await start_homei()
    try:
        admin = await again.auth()

        database = str(again.settings.database_path)

        async def rotated() -> bool:
            return (await asyncio.to_thread(_schedule_row, database))[1] == "rotated"

        await until(rotated, "the missed rotation")
        # Once: the next one is counted from now, not from the missed ones.
        next_due, _ = await asyncio.to_thread(_schedule_row, database)
        assert next_due > time.time() + 6.9 * 86400
        config = await call(again, "GET", "/api/v1/config/db", admin)
        assert config["version"] == 2
    finally:
        await again.client.close()


def _note_in_flight(database: str, service: str, previous: int) -> None:
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO secret_rotation_in_flight VALUES (?, 'DB_PASSWORD', 'production', ?)",
            (service, previous),
        )


def _in_flight(database: str) -> list[Any]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT * FROM secret_rotation_in_flight").fetchall()


async def test_a_rotation_cut_short_is_judged_at_the_next_start(
    start_homei: StartHomei, engine: DockerEngine
) -> None:
    """The daemon stopped between writing a new value and seeing the service take it (as a
    kill would leave it): at the next start a refused value is rolled back, a taken one kept."""
    homei = await start_homei()
    admin = await homei.auth()
    await _with_first_secret(homei, admin, engine)
    await install(homei, admin, guarded("kept"))
    await call(homei, "PUT", "/api/v1/config/kept", admin, json={"secrets": {"DB_PASSWORD": FIRST}})
    database = str(homei.settings.database_path)
    # What a rotation leaves when cut short: the new version written, noted as in flight.
    for service, value in (("db", "a-bad-one"), ("kept", "a-good-one")):
        body = {"secrets": {"DB_PASSWORD": value}}
        written = await call(homei, "PUT", f"/api/v1/config/{service}", admin, json=body)
        await asyncio.to_thread(_note_in_flight, database, service, written["version"] - 1)
    await homei.client.close()

    again = await start_homei()
    try:
        await until(lambda: asyncio.to_thread(lambda: not _in_flight(database)), "the judgements")
        admin = await again.auth()
        db = await call(again, "GET", "/api/v1/config/db?includeSecrets=true", admin)
        assert db["secrets"] == {"DB_PASSWORD": FIRST} and db["version"] == 3
        assert await asyncio.to_thread(read_secret, engine, "db") == FIRST
        kept = await call(again, "GET", "/api/v1/config/kept?includeSecrets=true", admin)
        assert kept["secrets"] == {"DB_PASSWORD": "a-good-one"} and kept["version"] == 2
    finally:
        await again.client.close()
