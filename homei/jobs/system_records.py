"""What the registry keeps about a system: its schema, its record and its errors."""

from __future__ import annotations

from typing import Literal

import msgspec

from homei.core.errors import Conflict, NotFound, ValidationError
from homei.core.store import Migration

LOCAL_SYSTEM_ID = "local"

SystemType = Literal["linux", "windows"]
HealthStatus = Literal["healthy", "unhealthy", "unknown"]
AuthMethod = Literal["key", "password", "local"]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
HOSTNAME_PATTERN = r"^[A-Za-z0-9._:%\[\]-]{1,253}$"
USERNAME_PATTERN = r"^[A-Za-z0-9._\\@-][A-Za-z0-9._\\@ $-]{0,63}$"

# Names the API or the CLI use as words beside a system's name.
RESERVED_NAMES = frozenset({"key", "local", "test", "accept-host-key", "all", "new"})

MIGRATIONS = (
    Migration(
        "systems",
        1,
        """
        CREATE TABLE systems (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            hostname TEXT NOT NULL,
            port INTEGER NOT NULL,
            system_type TEXT NOT NULL,
            username TEXT NOT NULL,
            auth_method TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            is_active INTEGER NOT NULL DEFAULT 1,
            operators_allowed INTEGER NOT NULL DEFAULT 0,
            health_status TEXT NOT NULL DEFAULT 'unknown',
            last_health_check TEXT,
            host_key_fingerprint TEXT,
            offered_host_key TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE system_secrets (
            system_id TEXT PRIMARY KEY REFERENCES systems (id) ON DELETE CASCADE,
            password BLOB NOT NULL
        );
        INSERT INTO systems (id, name, hostname, port, system_type, username, auth_method,
            description, health_status, created_at, updated_at)
        VALUES ('local', 'local', 'localhost', 0, 'linux', 'homei', 'local',
            'This device', 'healthy',
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
        """,
    ),
)


class System(msgspec.Struct, frozen=True, kw_only=True):
    """One system jobs can run on; never holds a secret."""

    id: str
    name: str
    hostname: str
    port: int
    system_type: SystemType
    username: str
    auth_method: AuthMethod
    description: str
    is_active: bool
    operators_allowed: bool
    health_status: HealthStatus
    last_health_check: str | None
    host_key_fingerprint: str | None
    created_at: str
    updated_at: str

    @property
    def is_local(self) -> bool:
        """The device itself, not a peer over SSH."""
        return self.id == LOCAL_SYSTEM_ID


class SystemNotFound(NotFound):
    code = "SYSTEM_NOT_FOUND"


class SystemNameTaken(Conflict):
    code = "SYSTEM_NAME_TAKEN"


class SystemIsBuiltIn(Conflict):
    """The `local` system is the device itself: it cannot be changed or deleted."""

    code = "SYSTEM_IS_BUILTIN"


class InvalidSystem(ValidationError):
    code = "VALIDATION_ERROR"
