"""What an account is: the tables of users, API keys, refresh sessions and revocations,
their records, the rules for names and passwords, and what a restore may bring back."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from homei.core.auth import MIN_PASSWORD_LENGTH, Role
from homei.core.errors import ValidationError
from homei.core.store import Migration

MIGRATIONS = (
    Migration(
        "accounts",
        1,
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            token_version INTEGER NOT NULL DEFAULT 1,
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        );
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            created TEXT NOT NULL,
            last_used TEXT
        );
        """,
    ),
    Migration(
        "accounts",
        2,
        """
        CREATE TABLE refresh_sessions (
            family TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            token_id TEXT NOT NULL,
            created TEXT NOT NULL,
            expires INTEGER NOT NULL
        );
        CREATE INDEX refresh_sessions_user ON refresh_sessions (user_id, created);
        CREATE INDEX refresh_sessions_expires ON refresh_sessions (expires);
        CREATE TABLE account_revocations (
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            revoked TEXT NOT NULL,
            PRIMARY KEY (kind, id)
        );
        """,
    ),
)

# A restore brings back the accounts a backup holds, but never a credential revoked since:
# the refresh sessions and the list of deleted users and keys keep their live rows, a user
# deleted since stays deleted (with its keys), and a user that still exists keeps its live
# password, role and token version (a password changed or reset since stays changed).
KEPT_ON_RESTORE = ("refresh_sessions", "account_revocations")
MERGE_ON_RESTORE = (
    "DELETE FROM main.users WHERE id IN"
    " (SELECT id FROM live.account_revocations WHERE kind = 'user')",
    "DELETE FROM main.api_keys WHERE id IN"
    " (SELECT id FROM live.account_revocations WHERE kind = 'api_key')"
    " OR user_id NOT IN (SELECT id FROM main.users)",
    "UPDATE main.users SET (role, password_hash, token_version, updated) ="
    " (SELECT l.role, l.password_hash, l.token_version, l.updated FROM live.users l"
    " WHERE l.id = main.users.id) WHERE id IN (SELECT id FROM live.users)",
    "DELETE FROM main.refresh_sessions WHERE user_id NOT IN (SELECT id FROM main.users)",
)

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class User(msgspec.Struct, frozen=True):
    id: str
    username: str
    role: Role
    created: str
    updated: str
    token_version: int


class ApiKey(msgspec.Struct, frozen=True):
    id: str
    name: str
    user_id: str
    username: str
    role: Role
    created: str
    last_used: str | None
    owner_role: Role

    @property
    def effective_role(self) -> Role:
        """The key's role, capped by what its owner may do today."""
        return self.role if self.owner_role.covers(self.role) else self.owner_role


def user_from_row(row: Any) -> User:
    """A user from its database row."""
    return User(
        row["id"],
        row["username"],
        Role(row["role"]),
        row["created"],
        row["updated"],
        row["token_version"],
    )


def key_from_row(row: Any) -> ApiKey:
    """An API key from its row joined with its owner's."""
    return ApiKey(
        row["id"],
        row["name"],
        row["user_id"],
        row["username"],
        Role(row["role"]),
        row["created"],
        row["last_used"],
        Role(row["owner_role"]),
    )


def validate_username(username: str) -> str:
    """The name unchanged, or 400 naming the rule it breaks."""
    if not USERNAME_PATTERN.match(username):
        raise ValidationError(
            "Username must be 1-64 letters, digits or . _ @ -, starting with a letter or digit",
            {"field": "username"},
        )
    return username


def validate_password(password: str) -> str:
    """The password unchanged, or 400 when it is too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters",
            {"field": "password"},
        )
    return password
