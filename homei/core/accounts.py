"""User accounts and API keys, kept in the device database."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homei.core.atomic import write_file_atomic
from homei.core.auth import (
    MIN_PASSWORD_LENGTH,
    Identity,
    Role,
    TokenIssuer,
    TokenPair,
    dummy_password_hash,
    hash_password,
    verify_password,
)
from homei.core.clock import monotonic, now_iso
from homei.core.errors import Conflict, NotFound, Unauthorized, UserNotFound, ValidationError
from homei.core.store import Migration, Store

_LOGGER = logging.getLogger(__name__)

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
)

_KEY_SELECT = (
    "SELECT k.*, u.username, u.role AS owner_role FROM api_keys k JOIN users u ON u.id = k.user_id"
)
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
API_KEY_PREFIX = "hk_"
INITIAL_ADMIN = "admin"
# How long a looked-up account is trusted before the database is asked again; a
# change made through this process takes effect at once, one made by the offline
# CLI within this many seconds.
IDENTITY_CACHE_TTL = 1.0
LAST_USED_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    role: Role
    created: str
    updated: str
    token_version: int


@dataclass(frozen=True, slots=True)
class ApiKey:
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


def _user(row: Any) -> User:
    return User(
        row["id"],
        row["username"],
        Role(row["role"]),
        row["created"],
        row["updated"],
        row["token_version"],
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


def _secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Accounts:
    """Users, their passwords and tokens, and API keys."""

    def __init__(self, store: Store, tokens: TokenIssuer) -> None:
        self._store = store
        self._tokens = tokens
        self._users: dict[str, tuple[float, User | None]] = {}
        self._keys: dict[str, tuple[float, tuple[ApiKey, str] | None]] = {}
        self._key_used: dict[str, float] = {}

    @property
    def tokens(self) -> TokenIssuer:
        """The issuer that signs this device's tokens."""
        return self._tokens

    async def ensure_initial_admin(self, password_file: Path) -> str | None:
        """On first run, create `admin` with a random password written to `password_file`."""
        row = await self._store.fetch_one("SELECT COUNT(*) FROM users")
        if row is not None and row[0] > 0:
            return None
        password = secrets.token_urlsafe(18)
        # The file first: if we crash before the user exists, the next start makes a new one.
        await asyncio.to_thread(write_file_atomic, password_file, f"{password}\n".encode(), 0o600)
        await self.add_user(INITIAL_ADMIN, password, Role.ADMIN)
        _LOGGER.warning(
            "Created user '%s'; its initial password is in %s", INITIAL_ADMIN, password_file
        )
        return password

    async def add_user(self, username: str, password: str, role: Role) -> User:
        """Create an account; 409 if the name is taken."""
        validate_username(username)
        validate_password(password)
        if await self._find(username) is not None:
            raise Conflict(f"User '{username}' already exists", {"username": username})
        password_hash = await asyncio.to_thread(hash_password, password)
        now = now_iso()
        user_id = f"user-{secrets.token_hex(6)}"
        await self._store.execute(
            "INSERT INTO users (id, username, role, password_hash, token_version, created, updated)"
            " VALUES (?, ?, ?, ?, 1, ?, ?)",
            (user_id, username, role, password_hash, now, now),
        )
        return await self.get_user(username)

    async def _find(self, username: str) -> Any:
        return await self._store.fetch_one("SELECT * FROM users WHERE username = ?", (username,))

    async def get_user(self, username: str) -> User:
        """One account by name; 404 `USER_NOT_FOUND` otherwise."""
        row = await self._find(username)
        if row is None:
            raise UserNotFound(f"User '{username}' not found", {"username": username})
        return _user(row)

    async def list_users(self) -> list[User]:
        """Every account, by name."""
        return [
            _user(r) for r in await self._store.fetch_all("SELECT * FROM users ORDER BY username")
        ]

    async def set_password(self, username: str, password: str) -> User:
        """Change a password and revoke every token issued to that user."""
        validate_password(password)
        user = await self.get_user(username)
        password_hash = await asyncio.to_thread(hash_password, password)
        await self._store.execute(
            "UPDATE users SET password_hash = ?, token_version = token_version + 1, updated = ?"
            " WHERE id = ?",
            (password_hash, now_iso(), user.id),
        )
        self._forget(user.id)
        return await self.get_user(username)

    async def set_role(self, username: str, role: Role) -> User:
        """Change a role; tokens are revoked so the new role applies at once."""
        user = await self.get_user(username)
        if user.role is Role.ADMIN and role is not Role.ADMIN:
            await self._require_another_admin(user)
        await self._store.execute(
            "UPDATE users SET role = ?, token_version = token_version + 1, updated = ?"
            " WHERE id = ?",
            (role, now_iso(), user.id),
        )
        self._forget(user.id)
        return await self.get_user(username)

    async def delete_user(self, username: str) -> None:
        """Remove an account and its API keys; the last admin cannot be removed."""
        user = await self.get_user(username)
        if user.role is Role.ADMIN:
            await self._require_another_admin(user)
        await self._store.execute("DELETE FROM users WHERE id = ?", (user.id,))
        self._forget(user.id)

    async def _require_another_admin(self, user: User) -> None:
        row = await self._store.fetch_one(
            "SELECT COUNT(*) FROM users WHERE role = ? AND id != ?", (Role.ADMIN, user.id)
        )
        if row is None or row[0] == 0:
            raise Conflict("The device must keep at least one admin", {"username": user.username})

    def _forget(self, user_id: str) -> None:
        self._users.pop(user_id, None)
        self._keys.clear()

    async def authenticate(self, username: str, password: str) -> User:
        """The user whose password this is; a 401 that does not say which part was wrong."""
        row = await self._find(username) if USERNAME_PATTERN.match(username) else None
        encoded = row["password_hash"] if row is not None else dummy_password_hash()
        is_valid = await asyncio.to_thread(verify_password, password, encoded)
        if row is None or not is_valid:
            raise Unauthorized("Invalid username or password")
        return _user(row)

    async def login(self, username: str, password: str) -> tuple[User, TokenPair]:
        """Check credentials and issue a token pair."""
        user = await self.authenticate(username, password)
        return user, self._tokens.issue(user.id, user.username, user.role, user.token_version)

    async def refresh(self, refresh_token: str) -> tuple[User, TokenPair]:
        """Trade a valid refresh token for a new pair."""
        claims = self._tokens.decode(refresh_token, "refresh")
        user = await self._current_user(claims.user_id, claims.token_version)
        return user, self._tokens.issue(user.id, user.username, user.role, user.token_version)

    async def identify(self, credential: str) -> Identity:
        """The caller behind a bearer credential: an access token or an API key."""
        if credential.startswith(API_KEY_PREFIX):
            return await self._identify_key(credential)
        claims = self._tokens.decode(credential, "access")
        user = await self._current_user(claims.user_id, claims.token_version)
        return Identity(user.id, user.username, user.role)

    async def _current_user(self, user_id: str, token_version: int) -> User:
        now = monotonic()
        cached = self._users.get(user_id)
        if cached is not None and cached[0] > now:
            user = cached[1]
        else:
            row = await self._store.fetch_one("SELECT * FROM users WHERE id = ?", (user_id,))
            user = _user(row) if row is not None else None
            self._users[user_id] = (now + IDENTITY_CACHE_TTL, user)
        if user is None or user.token_version != token_version:
            raise Unauthorized("Token has been revoked")
        return user

    async def create_api_key(
        self, owner: Identity, name: str, role: Role | None = None
    ) -> tuple[ApiKey, str]:
        """A new key acting for `owner` with at most the owner's role; the secret is shown once."""
        role = role or owner.role
        if not owner.role.covers(role):
            raise ValidationError(
                f"An API key cannot have more rights than its owner ({owner.role})",
                {"field": "role"},
            )
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        await self._store.execute(
            "INSERT INTO api_keys (id, name, user_id, role, secret_hash, created)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (key_id, name, owner.user_id, role, _secret_digest(secret), now_iso()),
        )
        return await self.get_api_key(key_id), f"{API_KEY_PREFIX}{key_id}_{secret}"

    async def get_api_key(self, key_id: str) -> ApiKey:
        """One key's record (never its secret); 404 otherwise."""
        found = await self._load_key(key_id)
        if found is None:
            raise NotFound(f"API key '{key_id}' not found", {"id": key_id})
        return found[0]

    async def list_api_keys(self, user_id: str | None = None) -> list[ApiKey]:
        """Keys of one user, or of everyone."""
        sql = _KEY_SELECT
        rows = await self._store.fetch_all(
            f"{sql} WHERE k.user_id = ? ORDER BY k.created"
            if user_id
            else f"{sql} ORDER BY k.created",
            (user_id,) if user_id else (),
        )
        return [self._key(r) for r in rows]

    async def revoke_api_key(self, key_id: str, by: Identity) -> None:
        """Delete a key; its owner or an admin may."""
        key = await self.get_api_key(key_id)
        if key.user_id != by.user_id and not by.is_admin:
            raise NotFound(f"API key '{key_id}' not found", {"id": key_id})
        await self._store.execute("DELETE FROM api_keys WHERE id = ?", (key_id,))
        self._keys.pop(key_id, None)

    @staticmethod
    def _key(row: Any) -> ApiKey:
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

    async def _load_key(self, key_id: str) -> tuple[ApiKey, str] | None:
        now = monotonic()
        cached = self._keys.get(key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        row = await self._store.fetch_one(
            f"{_KEY_SELECT} WHERE k.id = ?",
            (key_id,),
        )
        found = (self._key(row), row["secret_hash"]) if row is not None else None
        self._keys[key_id] = (now + IDENTITY_CACHE_TTL, found)
        return found

    async def _identify_key(self, credential: str) -> Identity:
        key_id, _, secret = credential[len(API_KEY_PREFIX) :].partition("_")
        found = await self._load_key(key_id) if key_id and secret else None
        if found is None or not hmac.compare_digest(found[1], _secret_digest(secret)):
            raise Unauthorized("Invalid API key")
        key = found[0]
        now = monotonic()
        if now - self._key_used.get(key.id, 0.0) > LAST_USED_INTERVAL:
            self._key_used[key.id] = now
            await self._store.execute(
                "UPDATE api_keys SET last_used = ? WHERE id = ?", (now_iso(), key.id)
            )
        return Identity(key.user_id, key.username, key.effective_role, api_key_id=key.id)
