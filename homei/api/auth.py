"""`/api/v1/auth/*`: logging in, refreshing tokens, the caller's own account and API keys."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from aiohttp import web

from homei.api.middleware import client_address, identity_of
from homei.api.models import StatusMessage
from homei.api.routing import endpoint
from homei.core.accounts import Accounts, ApiKey, User
from homei.core.auth import MIN_PASSWORD_LENGTH, Permission, Role, TokenPair
from homei.core.errors import RateLimited, Unauthorized, ValidationError
from homei.core.ratelimit import LoginThrottle

RoleName = Literal["admin", "operator", "viewer", "metrics"]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
NewPassword = Annotated[str, msgspec.Meta(min_length=MIN_PASSWORD_LENGTH, max_length=1024)]


class LoginRequest(msgspec.Struct):
    username: Name
    password: Secret


class RefreshRequest(msgspec.Struct):
    """The refresh token in the body; without a body, seed 004's `Authorization: Bearer`."""

    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)] | None = None


class UserOut(msgspec.Struct):
    id: str
    username: str
    role: str
    roles: list[str]
    permissions: list[str]
    created: str
    updated: str


class TokenResponse(msgspec.Struct):
    """The fields of seed 000 (`token`, `expiresIn`, `user`) and of 004 (`access_token`,
    `token_type`, `expires_in`), plus the refresh token."""

    token: str
    expiresIn: int
    user: UserOut
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class PasswordChange(msgspec.Struct):
    current_password: Secret
    new_password: NewPassword


class ApiKeyCreate(msgspec.Struct):
    name: Name
    role: RoleName | None = None


class ApiKeyOut(msgspec.Struct):
    id: str
    name: str
    username: str
    role: str
    created: str
    last_used: str | None


class ApiKeyCreated(msgspec.Struct):
    """The new key; `key` is shown this once and never again."""

    id: str
    name: str
    username: str
    role: str
    created: str
    key: str


class ApiKeyList(msgspec.Struct):
    keys: list[ApiKeyOut]


def user_out(user: User) -> UserOut:
    """The public view of an account."""
    return UserOut(
        user.id,
        user.username,
        str(user.role),
        [str(user.role)],
        sorted(str(p) for p in user.role.permissions),
        user.created,
        user.updated,
    )


def _key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        key.id, key.name, key.username, str(key.effective_role), key.created, key.last_used
    )


def _tokens(user: User, pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        pair.access_token,
        pair.expires_in,
        user_out(user),
        pair.access_token,
        "bearer",
        pair.expires_in,
        pair.refresh_token,
        pair.refresh_expires_in,
    )


def _bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def log_in(
    accounts: Accounts, throttle: LoginThrottle, request: web.Request, body: LoginRequest
) -> tuple[User, TokenPair]:
    """Check a username and password, making repeated failures from one address wait longer
    and longer (429)."""
    address = client_address(request)
    wait = throttle.retry_after(address)
    if wait:
        raise RateLimited(
            f"Too many failed logins; retry in {wait}s",
            {"retryAfter": wait},
            headers={"Retry-After": str(wait)},
        )
    try:
        user, pair = await accounts.login(body.username, body.password)
    except Unauthorized:
        throttle.failed(address)
        raise
    throttle.succeeded(address)
    return user, pair


class AuthApi:
    """Tokens for people, keys for automation."""

    def __init__(self, accounts: Accounts, throttle: LoginThrottle) -> None:
        self._accounts = accounts
        self._throttle = throttle

    async def _login(self, request: web.Request, body: LoginRequest) -> TokenResponse:
        return _tokens(*await log_in(self._accounts, self._throttle, request, body))

    @endpoint(
        "POST",
        "/api/v1/auth/login",
        summary="Log in",
        tag="auth",
        permission=None,
        body=LoginRequest,
        response=TokenResponse,
        errors=(401,),
    )
    async def login(self, request: web.Request, body: LoginRequest) -> TokenResponse:
        """Trade a username and password for an access token (1 h) and a refresh token (7 d).
        Repeated failures from one address must wait longer and longer (429)."""
        return await self._login(request, body)

    @endpoint(
        "POST",
        "/api/v1/auth/token",
        summary="Log in (alias of /auth/login)",
        tag="auth",
        permission=None,
        body=LoginRequest,
        response=TokenResponse,
        errors=(401,),
    )
    async def token(self, request: web.Request, body: LoginRequest) -> TokenResponse:
        """The same as `/auth/login`, under the name seed 004 uses."""
        return await self._login(request, body)

    @endpoint(
        "POST",
        "/api/v1/auth/refresh",
        summary="Refresh tokens",
        tag="auth",
        permission=None,
        body=RefreshRequest,
        body_optional=True,
        response=TokenResponse,
        errors=(401,),
    )
    async def refresh(self, request: web.Request, body: RefreshRequest) -> TokenResponse:
        """A new token pair for a refresh token, given as `refresh_token` in the body or as
        `Authorization: Bearer <refresh token>` (seed 004). Each refresh token works once:
        one used again revokes its whole session (401)."""
        token = body.refresh_token or _bearer(request)
        if token is None:
            raise Unauthorized("A refresh token is required")
        user, pair = await self._accounts.refresh(token)
        return _tokens(user, pair)

    @endpoint(
        "GET",
        "/api/v1/auth/me",
        summary="The caller's account",
        tag="auth",
        permission=Permission.READ,
        response=UserOut,
    )
    async def me(self, request: web.Request) -> UserOut:
        """Who the token belongs to, with its role and permissions."""
        return user_out(await self._accounts.get_user(identity_of(request).username))

    @endpoint(
        "POST",
        "/api/v1/auth/password",
        summary="Change the caller's password",
        tag="auth",
        permission=Permission.READ,
        body=PasswordChange,
        response=StatusMessage,
    )
    async def change_password(self, request: web.Request, body: PasswordChange) -> StatusMessage:
        """Needs the current password; every token issued before is revoked."""
        identity = identity_of(request)
        if identity.api_key_id is not None:
            raise Unauthorized("An API key cannot change a password; log in instead")
        try:
            await self._accounts.authenticate(identity.username, body.current_password)
        except Unauthorized:
            # Not 401: the session is fine, only the password typed was wrong.
            raise ValidationError(
                "The current password is wrong",
                {"fields": [{"path": "body.current_password", "message": "wrong password"}]},
            ) from None
        await self._accounts.set_password(identity.username, body.new_password)
        return StatusMessage("updated", "Password changed; log in again")

    @endpoint(
        "GET",
        "/api/v1/auth/keys",
        summary="List API keys",
        tag="auth",
        permission=Permission.READ,
        response=ApiKeyList,
    )
    async def list_keys(self, request: web.Request) -> ApiKeyList:
        """The caller's keys; an admin sees everyone's."""
        identity = identity_of(request)
        keys = await self._accounts.keys.list(None if identity.is_admin else identity.user_id)
        return ApiKeyList([_key_out(k) for k in keys])

    @endpoint(
        "POST",
        "/api/v1/auth/keys",
        summary="Create an API key",
        tag="auth",
        permission=Permission.READ,
        body=ApiKeyCreate,
        response=ApiKeyCreated,
        status=201,
    )
    async def create_key(self, request: web.Request, body: ApiKeyCreate) -> ApiKeyCreated:
        """A long-lived key acting for the caller with at most the caller's role (use `metrics`
        for a Prometheus scraper). The secret is in this answer only."""
        identity = identity_of(request)
        key, secret = await self._accounts.keys.create(
            identity, body.name, Role(body.role) if body.role else None
        )
        return ApiKeyCreated(key.id, key.name, key.username, str(key.role), key.created, secret)

    @endpoint(
        "DELETE",
        "/api/v1/auth/keys/{key_id}",
        summary="Revoke an API key",
        tag="auth",
        permission=Permission.READ,
        response=StatusMessage,
    )
    async def revoke_key(self, request: web.Request) -> StatusMessage:
        """The key stops working at once."""
        key_id = request.match_info["key_id"]
        await self._accounts.keys.revoke(key_id, identity_of(request))
        return StatusMessage("deleted", f"API key '{key_id}' revoked")
