"""The records of per-service configuration: its table, its versions and its errors."""

from __future__ import annotations

import aiosqlite
import msgspec

from homei.core.errors import HomeiError, NotFound
from homei.core.store import Migration

MIGRATIONS = (
    Migration(
        "service_config",
        1,
        """
        CREATE TABLE service_config (
            service TEXT NOT NULL,
            environment TEXT NOT NULL,
            version INTEGER NOT NULL,
            variables TEXT NOT NULL,
            secrets TEXT NOT NULL,
            modified_at REAL NOT NULL,
            modified_by TEXT NOT NULL,
            PRIMARY KEY (service, environment, version)
        );
        """,
    ),
)


class ConfigVersion(msgspec.Struct, frozen=True):
    """One version of a service's configuration in one environment.

    `secrets` holds the values when they were asked for, `REDACTED` otherwise.
    """

    service: str
    environment: str
    version: int
    variables: dict[str, str]
    secrets: dict[str, str]
    last_modified: float
    modified_by: str


class VersionInfo(msgspec.Struct, frozen=True):
    """A version as the history lists it."""

    version: int
    last_modified: float
    modified_by: str
    variables: int
    secrets: int


class SecretUnreadable(HomeiError):
    """A sealed secret that does not open: damaged, or sealed with another key."""

    code = "SECRET_UNREADABLE"


class ConfigVersionNotFound(NotFound):
    code = "CONFIG_VERSION_NOT_FOUND"


class StoredRow(msgspec.Struct, frozen=True):
    """A stored version, its secrets still sealed (base64)."""

    version: int
    variables: dict[str, str]
    sealed: dict[str, str]
    modified_at: float
    modified_by: str


SELECT_VERSIONS = (
    "SELECT version, variables, secrets, modified_at, modified_by FROM service_config"
    " WHERE service = ? AND environment = ?"
)
STR_MAP = msgspec.json.Decoder(dict[str, str])


def stored_row(row: aiosqlite.Row) -> StoredRow:
    return StoredRow(
        int(row["version"]),
        STR_MAP.decode(row["variables"]),
        STR_MAP.decode(row["secrets"]),
        float(row["modified_at"]),
        str(row["modified_by"]),
    )
