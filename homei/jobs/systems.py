"""The systems registry in SQLite: peers reached over SSH, and the device itself (`local`)."""

from __future__ import annotations

import builtins
import re
import sqlite3
import uuid
from typing import Any

import aiosqlite
import msgspec

from homei.core.clock import now_iso
from homei.core.store import Store
from homei.jobs.system_records import (
    HOSTNAME_PATTERN,
    LOCAL_SYSTEM_ID,
    NAME_PATTERN,
    RESERVED_NAMES,
    USERNAME_PATTERN,
    AuthMethod,
    HealthStatus,
    InvalidSystem,
    System,
    SystemIsBuiltIn,
    SystemNameTaken,
    SystemNotFound,
    SystemType,
)

__all__ = ["LOCAL_SYSTEM_ID", "System", "SystemChanges", "SystemNotFound", "Systems"]

_NAME = re.compile(NAME_PATTERN)
_HOSTNAME = re.compile(HOSTNAME_PATTERN)
_USERNAME = re.compile(USERNAME_PATTERN)
_COLUMNS = (
    "id, name, hostname, port, system_type, username, auth_method, description, is_active,"
    " operators_allowed, health_status, last_health_check, host_key_fingerprint,"
    " created_at, updated_at"
)


class SystemChanges(msgspec.Struct, frozen=True, kw_only=True):
    """What an admin sets on a system; None leaves a field as it is."""

    name: str | None = None
    hostname: str | None = None
    port: int | None = None
    system_type: SystemType | None = None
    username: str | None = None
    auth_method: AuthMethod | None = None
    description: str | None = None
    is_active: bool | None = None
    operators_allowed: bool | None = None


def _row(row: aiosqlite.Row) -> System:
    return System(
        id=row["id"],
        name=row["name"],
        hostname=row["hostname"],
        port=row["port"],
        system_type=row["system_type"],
        username=row["username"],
        auth_method=row["auth_method"],
        description=row["description"],
        is_active=bool(row["is_active"]),
        operators_allowed=bool(row["operators_allowed"]),
        health_status=row["health_status"],
        last_health_check=row["last_health_check"],
        host_key_fingerprint=row["host_key_fingerprint"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _check(system: System) -> None:
    """`InvalidSystem` naming the first field that cannot be used."""
    problems: dict[str, str] = {}
    if not _NAME.match(system.name):
        problems["name"] = "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
    elif system.name.lower() in RESERVED_NAMES:
        problems["name"] = f"'{system.name}' is a reserved word"
    if not _HOSTNAME.match(system.hostname):
        problems["hostname"] = "a host name or an IP address"
    if not 1 <= system.port <= 65535:
        problems["port"] = "1-65535"
    if not _USERNAME.match(system.username):
        problems["username"] = "1-64 characters of a user name"
    if system.auth_method == "local":
        problems["auth_method"] = "'key' or 'password'"
    if len(system.description) > 1024:
        problems["description"] = "at most 1024 characters"
    if problems:
        field, reason = next(iter(problems.items()))
        raise InvalidSystem(f"Invalid {field}: {reason}", {"fields": problems})


class Systems:
    """Registered systems; the secrets live beside them in `credentials.py`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, system_id: str) -> System:
        """The system; `SystemNotFound` when there is none."""
        row = await self._store.fetch_one(
            f"SELECT {_COLUMNS} FROM systems WHERE id = ?",
            (system_id,),
        )
        if row is None:
            raise SystemNotFound(f"System '{system_id}' not found", {"system_id": system_id})
        return _row(row)

    async def by_name(self, name: str) -> System | None:
        """The system called `name`, if any."""
        row = await self._store.fetch_one(
            f"SELECT {_COLUMNS} FROM systems WHERE name = ?",
            (name,),
        )
        return _row(row) if row is not None else None

    async def list(
        self,
        *,
        active: bool | None = None,
        system_type: SystemType | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[builtins.list[System], int]:
        """One page of systems (by name, `local` first) and how many match in all."""
        where: list[str] = []
        params: list[Any] = []
        if active is not None:
            where.append("is_active = ?")
            params.append(int(active))
        if system_type is not None:
            where.append("system_type = ?")
            params.append(system_type)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        total_row = await self._store.fetch_one(
            f"SELECT count(*) FROM systems{clause}",
            params,
        )
        rows = await self._store.fetch_all(
            f"SELECT {_COLUMNS} FROM systems{clause} ORDER BY id != 'local', name LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [_row(row) for row in rows], int(total_row[0]) if total_row else 0

    async def ids(self, *, active_only: bool = True) -> builtins.list[str]:
        """Every system's id (the active ones by default), `local` left out."""
        rows = await self._store.fetch_all(
            "SELECT id FROM systems WHERE id != 'local'" + (" AND is_active" if active_only else "")
        )
        return [row[0] for row in rows]

    async def create(
        self,
        changes: SystemChanges,
        password_row: tuple[str, tuple[Any, ...]] | None = None,
        system_id: str | None = None,
    ) -> System:
        """Register a system; `password_row` (from `Credentials`) is written with it."""
        now = now_iso()
        system = System(
            id=system_id or str(uuid.uuid4()),
            name=changes.name or "",
            hostname=changes.hostname or "",
            port=22 if changes.port is None else changes.port,
            system_type=changes.system_type or "linux",
            username=changes.username or "",
            auth_method=changes.auth_method or "key",
            description=changes.description or "",
            is_active=True if changes.is_active is None else changes.is_active,
            operators_allowed=bool(changes.operators_allowed),
            health_status="unknown",
            last_health_check=None,
            host_key_fingerprint=None,
            created_at=now,
            updated_at=now,
        )
        _check(system)
        statements: builtins.list[tuple[str, Any]] = [
            (
                f"INSERT INTO systems ({_COLUMNS}) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                msgspec.structs.astuple(system),
            )
        ]
        if password_row is not None:
            statements.append(password_row)
        await self._write(statements, system.name)
        return system

    async def update(
        self,
        system_id: str,
        changes: SystemChanges,
        password_row: tuple[str, tuple[Any, ...]] | None = None,
    ) -> System:
        """Change what `changes` sets; a new address or user forgets the pinned host key."""
        old = await self.get(system_id)
        if old.is_local:
            raise SystemIsBuiltIn("The local system cannot be changed", {"system_id": system_id})
        fields = {k: v for k, v in msgspec.structs.asdict(changes).items() if v is not None}
        system = msgspec.structs.replace(old, **fields, updated_at=now_iso())
        _check(system)
        moved = (system.hostname, system.port) != (old.hostname, old.port)
        if moved:
            system = msgspec.structs.replace(system, host_key_fingerprint=None)
        statements: builtins.list[tuple[str, Any]] = [
            (
                "UPDATE systems SET name = ?, hostname = ?, port = ?, system_type = ?,"
                " username = ?, auth_method = ?, description = ?, is_active = ?,"
                " operators_allowed = ?, host_key_fingerprint = ?, updated_at = ?"
                + (", offered_host_key = NULL, health_status = 'unknown'" if moved else "")
                + " WHERE id = ?",
                (
                    system.name,
                    system.hostname,
                    system.port,
                    system.system_type,
                    system.username,
                    system.auth_method,
                    system.description,
                    int(system.is_active),
                    int(system.operators_allowed),
                    system.host_key_fingerprint,
                    system.updated_at,
                    system_id,
                ),
            )
        ]
        if system.auth_method != "password":
            statements.append(("DELETE FROM system_secrets WHERE system_id = ?", (system_id,)))
        if password_row is not None:
            statements.append(password_row)
        await self._write(statements, system.name)
        return system if not moved else await self.get(system_id)

    async def _write(self, statements: builtins.list[tuple[str, Any]], name: str) -> None:
        try:
            await self._store.transaction(statements)
        except sqlite3.IntegrityError as err:
            if "systems.name" not in str(err):
                raise
            raise SystemNameTaken(f"A system named '{name}' exists", {"name": name}) from None

    async def delete(self, system_id: str) -> None:
        """Forget a system and its secrets (the jobs' rows go with it by their foreign keys)."""
        system = await self.get(system_id)
        if system.is_local:
            raise SystemIsBuiltIn("The local system cannot be deleted", {"system_id": system_id})
        await self._store.execute("DELETE FROM systems WHERE id = ?", (system_id,))

    async def set_health(self, system_id: str, status: HealthStatus) -> None:
        """Record a health check's result."""
        await self._store.execute(
            "UPDATE systems SET health_status = ?, last_health_check = ? WHERE id = ?",
            (status, now_iso(), system_id),
        )

    async def pinned_host_key(self, system_id: str) -> str | None:
        """The fingerprint every connection must present, once one was recorded."""
        row = await self._store.fetch_one(
            "SELECT host_key_fingerprint FROM systems WHERE id = ?", (system_id,)
        )
        return row[0] if row is not None else None

    async def offered_host_key(self, system_id: str) -> str | None:
        """The fingerprint last refused as not the pinned one."""
        row = await self._store.fetch_one(
            "SELECT offered_host_key FROM systems WHERE id = ?", (system_id,)
        )
        return row[0] if row is not None else None

    async def pin_host_key(self, system_id: str, fingerprint: str) -> None:
        """Pin `fingerprint` when no key is pinned yet (trust on first use)."""
        await self._store.execute(
            "UPDATE systems SET host_key_fingerprint = ? WHERE id = ?"
            " AND host_key_fingerprint IS NULL",
            (fingerprint, system_id),
        )

    async def refuse_host_key(self, system_id: str, fingerprint: str) -> None:
        """Remember the host key a connection refused, for an admin to accept."""
        await self._store.execute(
            "UPDATE systems SET offered_host_key = ?, health_status = 'unhealthy' WHERE id = ?",
            (fingerprint, system_id),
        )

    async def accept_host_key(self, system_id: str, fingerprint: str) -> None:
        """Pin `fingerprint` in place of the old key (an admin's decision)."""
        await self._store.execute(
            "UPDATE systems SET host_key_fingerprint = ?, offered_host_key = NULL,"
            " updated_at = ? WHERE id = ?",
            (fingerprint, now_iso(), system_id),
        )
