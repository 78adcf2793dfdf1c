"""User accounts, kept in the device database: passwords, roles, logins and who is calling.

API keys live in `api_keys.py`, refresh sessions in `sessions.py`, the tables and records
in `account_records.py`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path
from typing import Any

from homei.core.account_records import (
    KEPT_ON_RESTORE,
    MERGE_ON_RESTORE,
    MIGRATIONS,
    USERNAME_PATTERN,
    ApiKey,
    User,
    user_from_row,
    validate_password,
    validate_username,
)
from homei.core.api_keys import API_KEY_PREFIX, ApiKeys
from homei.core.atomic import write_file_atomic
from homei.core.auth import (
    Identity,
    Role,
    TokenIssuer,
    TokenPair,
    dummy_password_hash,
    hash_password,
    verify_password,
)
from homei.core.bounded import ExpiringCache
from homei.core.clock import monotonic, now_iso
from homei.core.errors import Conflict, Unauthorized, UserNotFound
from homei.core.sessions import RefreshSessions
from homei.core.store import Store

__all__ = [
    "API_KEY_PREFIX",
    "KEPT_ON_RESTORE",
    "MERGE_ON_RESTORE",
    "MIGRATIONS",
    "Accounts",
    "ApiKey",
    "User",
    "validate_password",
    "validate_username",
]

_LOGGER = logging.getLogger(__name__)

INITIAL_ADMIN = "admin"
# How long a looked-up account is trusted before the database is asked again; a
# change made through this process takes effect at once, one made by the offline
# CLI within this many seconds.
IDENTITY_CACHE_TTL = 1.0
USER_CACHE_SIZE = 1024
_MISSING: Any = object()


class Accounts:
    """Users, their passwords and tokens; `keys` holds their API keys."""

    def __init__(self, store: Store, tokens: TokenIssuer) -> None:
        self._store = store
        self._tokens = tokens
        self._sessions = RefreshSessions(store, tokens)
        self.keys = ApiKeys(store)
        # The account as last read, with the identity it gives (None: no such user).
        self._users: ExpiringCache[str, tuple[User, Identity] | None] = ExpiringCache(
            USER_CACHE_SIZE
        )

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
        return user_from_row(row)

    async def list_users(self) -> list[User]:
        """Every account, by name."""
        rows = await self._store.fetch_all("SELECT * FROM users ORDER BY username")
        return [user_from_row(r) for r in rows]

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
        """Change a role; the user's tokens are revoked so the new role applies at once. The
        role it already has changes nothing and revokes nothing."""
        user = await self.get_user(username)
        if user.role is role:
            return user
        if user.role is Role.ADMIN:
            await self._require_another_admin(user)
        await self._store.execute(
            "UPDATE users SET role = ?, token_version = token_version + 1, updated = ?"
            " WHERE id = ?",
            (role, now_iso(), user.id),
        )
        self._forget(user.id)
        return await self.get_user(username)

    async def delete_user(self, username: str) -> None:
        """Remove an account, its API keys and sessions; the last admin cannot be removed.
        The account stays deleted across a restore of an older backup."""
        user = await self.get_user(username)
        if user.role is Role.ADMIN:
            await self._require_another_admin(user)
        await self._store.transaction(
            [
                ("DELETE FROM users WHERE id = ?", (user.id,)),
                ("DELETE FROM refresh_sessions WHERE user_id = ?", (user.id,)),
                (
                    "INSERT OR REPLACE INTO account_revocations (kind, id, revoked)"
                    " VALUES ('user', ?, ?)",
                    (user.id, now_iso()),
                ),
            ]
        )
        self._forget(user.id)

    async def _require_another_admin(self, user: User) -> None:
        row = await self._store.fetch_one(
            "SELECT COUNT(*) FROM users WHERE role = ? AND id != ?", (Role.ADMIN, user.id)
        )
        if row is None or row[0] == 0:
            raise Conflict("The device must keep at least one admin", {"username": user.username})

    def _forget(self, user_id: str) -> None:
        self._users.pop(user_id)
        self.keys.forget()  # their owner's role caps them

    async def reload(self) -> None:
        """Drop every cached account and key: a restore replaced the tables."""
        self._users.clear()
        self.keys.forget()

    async def authenticate(self, username: str, password: str) -> User:
        """The user whose password this is; a 401 that does not say which part was wrong."""
        row = await self._find(username) if USERNAME_PATTERN.match(username) else None
        encoded = row["password_hash"] if row is not None else dummy_password_hash()
        is_valid = await asyncio.to_thread(verify_password, password, encoded)
        if row is None or not is_valid:
            raise Unauthorized("Invalid username or password")
        return user_from_row(row)

    async def login(self, username: str, password: str) -> tuple[User, TokenPair]:
        """Check credentials, open a refresh session and issue its first token pair."""
        user = await self.authenticate(username, password)
        return user, await self._sessions.open(user)

    async def refresh(self, refresh_token: str) -> tuple[User, TokenPair]:
        """Trade a refresh token for a new pair; each refresh token works once."""
        claims = self._tokens.decode(refresh_token, "refresh")
        try:
            user, _ = await self._current_user(claims.user_id, claims.token_version)
        except Unauthorized:
            await self._sessions.end(claims.family)
            raise
        return user, await self._sessions.rotate(claims, user)

    async def log_out(self, refresh_token: str) -> bool:
        """End the login session a refresh token belongs to; whether one was open. A token
        that is expired or forged ends nothing."""
        try:
            claims = self._tokens.decode(refresh_token, "refresh")
        except Unauthorized:
            return False
        return await self._sessions.end(claims.family)

    async def identify(self, credential: str) -> Identity:
        """The caller behind a bearer credential: an access token or an API key."""
        if credential.startswith(API_KEY_PREFIX):
            return await self.keys.identify(credential)
        claims = self._tokens.decode(credential, "access")
        _, identity = await self._current_user(claims.user_id, claims.token_version)
        return identity

    async def _current_user(self, user_id: str, token_version: int) -> tuple[User, Identity]:
        found = self._users.get(user_id, _MISSING)
        if found is _MISSING:
            row = await self._store.fetch_one("SELECT * FROM users WHERE id = ?", (user_id,))
            user = user_from_row(row) if row is not None else None
            found = None if user is None else (user, Identity(user.id, user.username, user.role))
            self._users.put(user_id, found, monotonic() + IDENTITY_CACHE_TTL)
        if found is None or found[0].token_version != token_version:
            raise Unauthorized("Token has been revoked")
        return found
