"""Refresh sessions: each login opens one, and its refresh token is single-use.

A refresh trades the session's current refresh token for a new one (rotation). A token
of the session used again after that was stolen or replayed, so the whole session ends
(OAuth 2.0 Security Best Current Practice, refresh token rotation). Sessions live in
SQLite, so a restart or a reboot forgets nothing; each ends when its newest token expires.
"""

from __future__ import annotations

import logging
import secrets
import time

from homei.core.account_records import User
from homei.core.auth import TokenClaims, TokenIssuer, TokenPair
from homei.core.clock import now_iso
from homei.core.errors import Unauthorized
from homei.core.store import Store

_LOGGER = logging.getLogger(__name__)

# A user logging in again and again (a script) keeps only its newest sessions.
MAX_SESSIONS_PER_USER = 50


class RefreshSessions:
    """Opens, rotates and ends the refresh sessions of every user."""

    def __init__(self, store: Store, tokens: TokenIssuer) -> None:
        self._store = store
        self._tokens = tokens

    async def open(self, user: User) -> TokenPair:
        """A new session for `user` and its first token pair."""
        family, token_id = secrets.token_hex(12), secrets.token_hex(12)
        now = int(time.time())
        await self._store.transaction(
            [
                ("DELETE FROM refresh_sessions WHERE expires <= ?", (now,)),
                (
                    "INSERT INTO refresh_sessions (family, user_id, token_id, created, expires)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (family, user.id, token_id, now_iso(), now + self._tokens.refresh_ttl),
                ),
                (
                    "DELETE FROM refresh_sessions WHERE user_id = ? AND family NOT IN"
                    " (SELECT family FROM refresh_sessions WHERE user_id = ?"
                    " ORDER BY created DESC, rowid DESC LIMIT ?)",
                    (user.id, user.id, MAX_SESSIONS_PER_USER),
                ),
            ]
        )
        return self._issue(user, family, token_id)

    async def rotate(self, claims: TokenClaims, user: User) -> TokenPair:
        """Trade the session's current refresh token for a new pair; a token used before
        ends its session, and a session that ended answers 401."""
        if not claims.family or not claims.token_id:
            raise Unauthorized("Refresh token has been revoked")
        token_id = secrets.token_hex(12)
        now = int(time.time())
        rotated = await self._store.execute(
            "UPDATE refresh_sessions SET token_id = ?, expires = ?"
            " WHERE family = ? AND user_id = ? AND token_id = ? AND expires > ?",
            (
                token_id,
                now + self._tokens.refresh_ttl,
                claims.family,
                user.id,
                claims.token_id,
                now,
            ),
        )
        if rotated == 1:
            return self._issue(user, claims.family, token_id)
        ended = await self.end(claims.family)
        if ended:
            _LOGGER.warning(
                "A used refresh token of '%s' came back; its session is revoked", user.username
            )
            raise Unauthorized("Refresh token was already used; its session is revoked")
        raise Unauthorized("Refresh token has been revoked")

    async def end(self, family: str) -> bool:
        """End one session; whether it was open."""
        return (
            await self._store.execute("DELETE FROM refresh_sessions WHERE family = ?", (family,))
            > 0
        )

    def _issue(self, user: User, family: str, token_id: str) -> TokenPair:
        return self._tokens.issue(
            user.id,
            user.username,
            user.role,
            user.token_version,
            family=family,
            refresh_id=token_id,
        )
