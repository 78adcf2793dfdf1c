"""`/api/v1/auth/session`: the dashboard's sign-in. The refresh token lives in an HttpOnly,
SameSite=Strict cookie scoped to this path, so no script on the page can read it; the page
keeps only the short-lived access token, in memory, and trades the cookie for a new one
after a reload."""

from __future__ import annotations

import msgspec
from aiohttp import web

from homei.api.auth import LoginRequest, UserOut, log_in, user_out
from homei.api.models import StatusMessage
from homei.api.routing import endpoint, json_response
from homei.core.accounts import Accounts, User
from homei.core.auth import TokenPair
from homei.core.errors import Unauthorized
from homei.core.ratelimit import LoginThrottle

COOKIE = "homei_session"
COOKIE_PATH = "/api/v1/auth/session"
# Sent by the page's own scripts on every session call. A page elsewhere cannot add a header
# to a cross-site request without a CORS preflight, which Homei never grants.
SESSION_HEADER = "X-Homei-Session"


class SessionOut(msgspec.Struct):
    """An access token for the page to keep in memory, and whose it is."""

    access_token: str
    token_type: str
    expires_in: int
    user: UserOut


def _answer(request: web.Request, user: User, pair: TokenPair, status: int) -> web.Response:
    response = json_response(
        SessionOut(pair.access_token, "bearer", pair.expires_in, user_out(user)), status
    )
    response.set_cookie(
        COOKIE,
        pair.refresh_token,
        max_age=pair.refresh_expires_in,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _require_page(request: web.Request) -> None:
    if request.headers.get(SESSION_HEADER) != "1":
        raise Unauthorized(f"Session calls carry the {SESSION_HEADER}: 1 header")


class SessionApi:
    """Sign in, stay signed in across reloads, sign out."""

    def __init__(self, accounts: Accounts, throttle: LoginThrottle) -> None:
        self._accounts = accounts
        self._throttle = throttle

    @endpoint(
        "POST",
        COOKIE_PATH,
        summary="Sign in (browser session)",
        tag="auth",
        permission=None,
        body=LoginRequest,
        response=SessionOut,
        status=201,
        errors=(401,),
    )
    async def sign_in(self, request: web.Request, body: LoginRequest) -> web.Response:
        """Check a username and password; the answer holds an access token and sets the
        session cookie (HttpOnly, SameSite=Strict) that `POST /auth/session/refresh` trades
        for the next one. Needs the `X-Homei-Session: 1` header."""
        _require_page(request)
        user, pair = await log_in(self._accounts, self._throttle, request, body)
        return _answer(request, user, pair, 201)

    @endpoint(
        "POST",
        COOKIE_PATH + "/refresh",
        summary="Resume a browser session",
        tag="auth",
        permission=None,
        response=SessionOut,
        errors=(401,),
    )
    async def resume(self, request: web.Request) -> web.Response:
        """A new access token for the session cookie, which is replaced by the next one (each
        works once; one used again ends its session). 401 without a live session."""
        _require_page(request)
        token = request.cookies.get(COOKIE)
        if not token:
            raise Unauthorized("No session: sign in")
        user, pair = await self._accounts.refresh(token)
        return _answer(request, user, pair, 200)

    @endpoint(
        "DELETE",
        COOKIE_PATH,
        summary="Sign out (browser session)",
        tag="auth",
        permission=None,
        response=StatusMessage,
        errors=(401,),
    )
    async def sign_out(self, request: web.Request) -> web.Response:
        """End the session the cookie names and clear the cookie; signing out twice is fine."""
        _require_page(request)
        token = request.cookies.get(COOKIE)
        ended = bool(token) and await self._accounts.log_out(token or "")
        response = json_response(
            StatusMessage("deleted", "Signed out" if ended else "No session was open"), 200
        )
        response.del_cookie(COOKIE, path=COOKIE_PATH)
        response.headers["Cache-Control"] = "no-store"
        return response
