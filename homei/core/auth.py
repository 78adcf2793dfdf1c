"""Roles, permissions, password hashing and signed tokens.

Passwords are stored only as scrypt hashes. Access and refresh tokens are HS256
JWTs signed with a per-device secret; each carries the user's token version, so
bumping the version (a password change) revokes every token issued before. A refresh
token also names its session (`fam`), in which only the newest one may be used.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
import time
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec

from homei.core.atomic import write_file_atomic
from homei.core.bounded import ExpiringCache
from homei.core.errors import Unauthorized
from homei.core.lazy import load_without

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SECRET_BYTES = 64
MIN_PASSWORD_LENGTH = 8
VERIFIED_CACHE_SIZE = 4096


def _jwt() -> ModuleType:
    """PyJWT, imported on first use: start-up need not wait for it (see `preload`)."""
    # Without its optional `cryptography` backend, which only RSA and EC keys need: Homei
    # signs with HS256 (hmac), and the backend would add some 9 MiB to an idle daemon.
    return load_without("jwt", "cryptography")


def preload() -> None:
    """Import what the first login needs; run in a thread once the daemon serves."""
    _jwt()


class Permission(StrEnum):
    READ = "read"
    CONTROL = "control"
    ADMIN = "admin"
    METRICS = "metrics"


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"
    METRICS = "metrics"

    @property
    def permissions(self) -> frozenset[Permission]:
        """What this role may do."""
        return _ROLE_PERMISSIONS[self]

    def covers(self, other: Role) -> bool:
        """True when this role may do everything `other` may (used to cap API keys)."""
        return other.permissions <= self.permissions


_ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset({Permission.READ, Permission.CONTROL, Permission.METRICS}),
    Role.VIEWER: frozenset({Permission.READ, Permission.METRICS}),
    Role.METRICS: frozenset({Permission.METRICS}),
}


class Identity(msgspec.Struct, frozen=True):
    """Who is calling: a user through a token, or an API key acting for a user."""

    user_id: str
    username: str
    role: Role
    api_key_id: str | None = None

    def can(self, permission: Permission) -> bool:
        """True when the caller holds `permission`."""
        return permission in self.role.permissions

    @property
    def is_admin(self) -> bool:
        """True for the admin role."""
        return self.role is Role.ADMIN


def hash_password(password: str) -> str:
    """An scrypt hash with its parameters and salt; CPU-heavy, call from a thread."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return "$".join(
        (
            "scrypt",
            str(SCRYPT_N),
            str(SCRYPT_R),
            str(SCRYPT_P),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        )
    )


def verify_password(password: str, encoded: str) -> bool:
    """Check a password against `hash_password`'s output in constant time."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_password_hash() -> str:
    """A hash to verify against when a user does not exist, so that a failed login
    takes as long whether or not the name is known."""
    return hash_password(secrets.token_urlsafe(16))


def load_or_create_secret(path: Path) -> bytes:
    """The device's token-signing secret, created (mode 0600) on first use. Blocking."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    if len(data) >= 32:
        return data
    data = secrets.token_bytes(SECRET_BYTES)
    write_file_atomic(path, data, 0o600)
    return data


class TokenPair(msgspec.Struct, frozen=True):
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int


class TokenClaims(msgspec.Struct, frozen=True):
    user_id: str
    token_version: int
    token_type: str
    token_id: str = ""
    family: str = ""  # refresh tokens: the login session they rotate within


class TokenIssuer:
    """Signs and checks the JWTs of one device."""

    def __init__(
        self,
        secret: bytes,
        *,
        access_ttl: int = 3600,
        refresh_ttl: int = 7 * 86400,
        issuer: str = "homei",
    ) -> None:
        self._secret = secret
        self._verified: ExpiringCache[str, TokenClaims] = ExpiringCache(
            VERIFIED_CACHE_SIZE, clock=time.time
        )
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self._issuer = issuer

    def issue(
        self,
        user_id: str,
        username: str,
        role: str,
        token_version: int,
        *,
        family: str,
        refresh_id: str,
    ) -> TokenPair:
        """A fresh access token, and the refresh token `refresh_id` of session `family`."""
        now = int(time.time())
        base = {
            "sub": user_id,
            "name": username,
            "role": role,
            "ver": token_version,
            "iat": now,
            "iss": self._issuer,
        }
        jwt = _jwt()
        access = jwt.encode(
            {**base, "typ": "access", "exp": now + self.access_ttl, "jti": secrets.token_hex(8)},
            self._secret,
            algorithm="HS256",
        )
        refresh = jwt.encode(
            {
                **base,
                "typ": "refresh",
                "exp": now + self.refresh_ttl,
                "jti": refresh_id,
                "fam": family,
            },
            self._secret,
            algorithm="HS256",
        )
        return TokenPair(access, refresh, self.access_ttl, self.refresh_ttl)

    def decode(self, token: str, token_type: str = "access") -> TokenClaims:  # noqa: S107
        """Check a token's signature, expiry and type; 401 otherwise.

        A token whose signature was checked once is remembered until it expires (the most
        recently used few thousand), so a client reusing its token costs a dictionary
        lookup, not an HMAC and a JSON parse.
        """
        known = self._verified.get(token)
        if known is None:
            expires, known = self._verify(token)
            self._verified.put(token, known, expires)
        if known.token_type != token_type:
            raise Unauthorized(f"Expected an {token_type} token")
        return known

    def _verify(self, token: str) -> tuple[int, TokenClaims]:
        jwt = _jwt()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=self._issuer,
                options={"require": ["exp", "sub", "ver", "typ"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("Token has expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("Invalid token") from None
        token_type = claims.get("typ")
        if token_type not in ("access", "refresh"):
            raise Unauthorized("Invalid token")
        try:
            return int(claims["exp"]), TokenClaims(
                str(claims["sub"]),
                int(claims["ver"]),
                str(token_type),
                str(claims.get("jti", "")),
                str(claims.get("fam", "")),
            )
        except (TypeError, ValueError):
            raise Unauthorized("Invalid token") from None
