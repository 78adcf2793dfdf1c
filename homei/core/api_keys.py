"""Long-lived API keys for automation: `hk_<id>_<secret>`, stored as SHA-256 digests.

A key acts for its owner with its own role, capped by the owner's role of the day.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from homei.core.account_records import ApiKey, key_from_row
from homei.core.auth import Identity, Role
from homei.core.bounded import ExpiringCache
from homei.core.clock import monotonic, now_iso
from homei.core.errors import NotFound, Unauthorized, ValidationError
from homei.core.store import Store

API_KEY_PREFIX = "hk_"
_KEY_ID = re.compile(r"^[0-9a-f]{12}$")
_KEY_SELECT = (
    "SELECT k.*, u.username, u.role AS owner_role FROM api_keys k JOIN users u ON u.id = k.user_id"
)
# How long a looked-up key is trusted before the database is asked again; a change made
# through this process takes effect at once, one made by the offline CLI within this time.
KEY_CACHE_TTL = 1.0
KEY_CACHE_SIZE = 1024
LAST_USED_INTERVAL = 60.0


def _secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeys:
    """Creates, lists, revokes and recognises API keys."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # Keyed by what callers send: bounded, or a client sending made-up ids grows it.
        self._cache: ExpiringCache[str, tuple[tuple[ApiKey, str] | None]] = ExpiringCache(
            KEY_CACHE_SIZE
        )
        self._used: ExpiringCache[str, bool] = ExpiringCache(KEY_CACHE_SIZE)

    @property
    def cached_count(self) -> int:
        """How many key ids are remembered (at most `KEY_CACHE_SIZE`)."""
        return len(self._cache)

    def forget(self) -> None:
        """Drop every cached key (an owner's role changed, or a restore replaced them)."""
        self._cache.clear()

    async def create(
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
        return await self.get(key_id), f"{API_KEY_PREFIX}{key_id}_{secret}"

    async def get(self, key_id: str) -> ApiKey:
        """One key's record (never its secret); 404 otherwise."""
        found = await self._load(key_id)
        if found is None:
            raise NotFound(f"API key '{key_id[:64]}' not found", {"id": key_id[:64]})
        return found[0]

    async def list(self, user_id: str | None = None) -> list[ApiKey]:
        """Keys of one user, or of everyone."""
        rows = await self._store.fetch_all(
            f"{_KEY_SELECT} WHERE k.user_id = ? ORDER BY k.created"
            if user_id
            else f"{_KEY_SELECT} ORDER BY k.created",
            (user_id,) if user_id else (),
        )
        return [key_from_row(r) for r in rows]

    async def revoke(self, key_id: str, by: Identity) -> None:
        """Delete a key; its owner or an admin may. It stays revoked across a restore."""
        key = await self.get(key_id)
        if key.user_id != by.user_id and not by.is_admin:
            raise NotFound(f"API key '{key_id}' not found", {"id": key_id})
        await self._store.transaction(
            [
                ("DELETE FROM api_keys WHERE id = ?", (key_id,)),
                (
                    "INSERT OR REPLACE INTO account_revocations (kind, id, revoked)"
                    " VALUES ('api_key', ?, ?)",
                    (key_id, now_iso()),
                ),
            ]
        )
        self._cache.pop(key_id)
        self._used.pop(key_id)

    async def _load(self, key_id: str) -> tuple[ApiKey, str] | None:
        if not _KEY_ID.match(key_id):
            return None  # no key has such an id: neither asked for nor remembered
        cached = self._cache.get(key_id)
        if cached is not None:
            return cached[0]
        row = await self._store.fetch_one(f"{_KEY_SELECT} WHERE k.id = ?", (key_id,))
        found = (key_from_row(row), row["secret_hash"]) if row is not None else None
        self._cache.put(key_id, (found,), monotonic() + KEY_CACHE_TTL)
        return found

    async def identify(self, credential: str) -> Identity:
        """The caller behind an `hk_` key, with the key's role capped by its owner's."""
        key_id, _, secret = credential[len(API_KEY_PREFIX) :].partition("_")
        found = await self._load(key_id) if secret else None
        if found is None or not hmac.compare_digest(found[1], _secret_digest(secret)):
            raise Unauthorized("Invalid API key")
        key = found[0]
        if self._used.get(key.id) is None:
            self._used.put(key.id, True, monotonic() + LAST_USED_INTERVAL)
            await self._store.execute(
                "UPDATE api_keys SET last_used = ? WHERE id = ?", (now_iso(), key.id)
            )
        return Identity(key.user_id, key.username, key.effective_role, api_key_id=key.id)
