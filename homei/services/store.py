"""The declared services in SQLite: the desired state that outlives the daemon and Docker."""

from __future__ import annotations

from typing import Literal

import msgspec

from homei.core.clock import now_iso
from homei.core.errors import NotFound
from homei.core.store import Migration, Store
from homei.services.spec import ServiceSpec, decode_spec, encode_spec

MIGRATIONS = (
    Migration(
        "services",
        1,
        """
        CREATE TABLE services (
            name TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            desired TEXT NOT NULL DEFAULT 'running',
            restarts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE service_samples (
            service TEXT NOT NULL,
            ts REAL NOT NULL,
            cpu REAL NOT NULL,
            memory INTEGER NOT NULL,
            memory_limit INTEGER NOT NULL,
            rx_bytes INTEGER NOT NULL,
            tx_bytes INTEGER NOT NULL,
            read_bytes INTEGER NOT NULL,
            write_bytes INTEGER NOT NULL
        );
        CREATE INDEX service_samples_by_time ON service_samples (service, ts);
        """,
    ),
)

Desired = Literal["running", "stopped"]


class ServiceNotFound(NotFound):
    code = "SERVICE_NOT_FOUND"


class Declared(msgspec.Struct, frozen=True):
    """One declared service and what the operator last asked of it."""

    spec: ServiceSpec
    desired: Desired
    restarts: int
    created_at: str
    updated_at: str

    @property
    def should_run(self) -> bool:
        """Enabled and not stopped by an operator."""
        return self.spec.enabled and self.desired == "running"


class ServiceStore:
    """Declared services, read through an in-memory copy that is written through first."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._rows: dict[str, Declared] = {}

    async def load(self) -> None:
        """Read every declared service (at start-up)."""
        rows = await self._store.fetch_all(
            "SELECT name, spec, desired, restarts, created_at, updated_at FROM services"
        )
        self._rows = {
            row["name"]: Declared(
                decode_spec(row["spec"]),
                row["desired"],
                row["restarts"],
                row["created_at"],
                row["updated_at"],
            )
            for row in rows
        }

    def get(self, name: str) -> Declared | None:
        return self._rows.get(name)

    def declared(self, name: str) -> Declared:
        """The declared service; `ServiceNotFound` when there is none."""
        row = self._rows.get(name)
        if row is None:
            raise ServiceNotFound(f"Service '{name}' not found", {"service_name": name})
        return row

    def all(self) -> dict[str, Declared]:
        return dict(self._rows)

    def count(self, enabled: bool) -> int:
        """How many services are declared enabled (or disabled)."""
        return sum(1 for row in self._rows.values() if row.spec.enabled == enabled)

    def graph(self) -> dict[str, list[str]]:
        """Each service's dependencies."""
        return {name: list(row.spec.depends_on) for name, row in self._rows.items()}

    async def put(self, spec: ServiceSpec, desired: Desired | None = None) -> Declared:
        """Declare or replace a service (keeping its history)."""
        now = now_iso()
        old = self._rows.get(spec.name)
        row = Declared(
            spec,
            desired or (old.desired if old else "running"),
            old.restarts if old else 0,
            old.created_at if old else now,
            now,
        )
        await self._store.execute(
            "INSERT INTO services (name, spec, desired, restarts, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET spec = excluded.spec,"
            " desired = excluded.desired, updated_at = excluded.updated_at",
            (
                spec.name,
                encode_spec(spec).decode(),
                row.desired,
                row.restarts,
                row.created_at,
                row.updated_at,
            ),
        )
        self._rows[spec.name] = row
        return row

    async def set_desired(self, name: str, desired: Desired) -> None:
        row = self._rows[name]
        if row.desired == desired:
            return
        await self._store.execute("UPDATE services SET desired = ? WHERE name = ?", (desired, name))
        self._rows[name] = _replace(row, desired=desired)

    async def count_restart(self, name: str) -> int:
        row = self._rows[name]
        await self._store.execute(
            "UPDATE services SET restarts = restarts + 1 WHERE name = ?", (name,)
        )
        self._rows[name] = _replace(row, restarts=row.restarts + 1)
        return row.restarts + 1

    async def remove(self, name: str) -> None:
        await self._store.transaction(
            [
                ("DELETE FROM services WHERE name = ?", (name,)),
                ("DELETE FROM service_samples WHERE service = ?", (name,)),
            ]
        )
        self._rows.pop(name, None)


def _replace(row: Declared, **changes: object) -> Declared:
    """`row` with `changes`."""
    return msgspec.structs.replace(row, **changes)
