"""What every request passes through: request id, access log, metrics, the one
error envelope, authentication, rate limits and permissions."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.web_exceptions import HTTPException

from homei.api.accesslog import AccessLog
from homei.api.failures import REQUEST_ID, failure_response
from homei.api.routing import Endpoint, endpoint_of
from homei.core.accounts import Accounts
from homei.core.auth import Identity, Role
from homei.core.errors import Forbidden, RateLimited, Unauthorized
from homei.core.ratelimit import Quota, RateLimiter
from homei.monitor.api_metrics import ApiMetrics
from homei.settings_sections import RateLimitSettings

_LOGGER = logging.getLogger(__name__)


# aiohttp 3.12+ types request storage; the string keys keep older releases (the
# device image's) working.
class Exchange:
    """What the pipeline notes about one request, kept in one slot of it: its id, the
    caller, the rate-limit headers its answer carries, and that answer once it began."""

    __slots__ = ("identity", "prepared", "rate_limit", "request_id")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.identity: Identity | None = None
        self.rate_limit: dict[str, str] | None = None
        self.prepared: web.StreamResponse | None = None


EXCHANGE: Any = (
    web.RequestKey("exchange", Exchange) if hasattr(web, "RequestKey") else "homei.exchange"
)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def identity_of(request: web.Request) -> Identity:
    """The authenticated caller; only for routes that require a token."""
    exchange: Exchange | None = request.get(EXCHANGE)
    identity = exchange.identity if exchange is not None else None
    if identity is None:
        raise Unauthorized("Authentication required")
    return identity


def client_address(request: web.Request) -> str:
    """The peer's address (the daemon is reached directly, not through a proxy)."""
    return request.remote or "unknown"


def is_disconnected(request: web.BaseRequest) -> bool:
    """True once the client has gone: nothing can be sent to it any more."""
    transport = request.transport
    return transport is None or transport.is_closing()


def request_ids() -> Callable[[], str]:
    """Ids telling requests apart in logs and answers: a random prefix per process, then a
    count. Not secrets, so neither random bytes nor a system call per request."""
    prefix = secrets.token_hex(4)
    count = itertools.count(1)
    return lambda: f"{prefix}{next(count):08x}"


async def _stamp_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """Every answer, streamed and WebSocket upgrades included, carries the request id and
    the rate-limit headers of its request."""
    exchange: Exchange | None = request.get(EXCHANGE)
    if exchange is None:
        return
    headers = response.headers
    headers.setdefault(REQUEST_ID, exchange.request_id)
    if exchange.rate_limit:
        for key, value in exchange.rate_limit.items():
            headers.setdefault(key, value)
    exchange.prepared = response


def make_error_middleware(
    metrics: ApiMetrics, access_log: AccessLog | None = None, policy: AccessPolicy | None = None
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Request id, timing, access log, metrics, the error envelope for every failure and,
    given a `policy`, authentication, rate limits and permissions (`authorize`).

    One middleware, not two: each layer costs every request a coroutine and a frame.
    The answer is prepared here, so the log and the metrics record the status really sent
    (a file that vanished before its download started is a 404, not the 200 planned)."""

    new_request_id = request_ids()

    @web.middleware
    async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        given = request.headers.get(REQUEST_ID)
        request_id = given if given and _CLIENT_ID.match(given) else new_request_id()
        exchange = Exchange(request_id)
        request[EXCHANGE] = exchange
        left = False
        try:
            if policy is not None:
                await authorize(policy, request, exchange)
            response = await handler(request)
            if not response.prepared:
                await response.prepare(request)
        except HTTPException as exc:
            if exc.status < 400:
                exc.headers[REQUEST_ID] = request_id
                raise
            response, left = _after_failure(request, exc, exchange)
        except Exception as exc:
            response, left = _after_failure(request, exc, exchange)
        elapsed = time.perf_counter() - started
        route = request.match_info.route.resource
        template = route.canonical if route is not None else "unmatched"
        status = response.status
        if left:
            metrics.observe_disconnect(request.method, template)
            status = CLIENT_CLOSED
        else:
            metrics.observe(request.method, template, status, elapsed)
        if access_log is not None and access_log.enabled:
            access_log.record(
                client_address(request),
                request.method,
                request.path_qs,
                status,
                elapsed,
                request_id,
            )
        return response

    return errors_middleware


CLIENT_CLOSED = 499  # what nginx logs for a client that left before its answer was sent


def _after_failure(
    request: web.Request, exc: Exception, exchange: Exchange
) -> tuple[web.StreamResponse, bool]:
    """What to hand aiohttp after a failure (the stream already started, or an envelope),
    and whether the client had left: that is no server error, only worth a debug line."""
    request_id = exchange.request_id
    left = is_disconnected(request)
    if left:
        _LOGGER.debug(
            "Client left during %s %s [%s]: %r", request.method, request.path, request_id, exc
        )
    sent = exchange.prepared
    if sent is not None:
        # The status line is out: its status stands, and the connection is closed.
        if not left:
            _LOGGER.warning(
                "%s %s [%s] failed after its answer began: %r",
                request.method,
                request.path,
                request_id,
                exc,
            )
        sent.force_close()
        return sent, left
    if left:
        return web.Response(status=CLIENT_CLOSED), left
    return failure_response(request, exc, request_id), left


class AccessPolicy(msgspec.Struct, frozen=True):
    """Who may call what, and how often."""

    accounts: Accounts
    limiter: RateLimiter
    limits: RateLimitSettings

    def quotas(
        self, request: web.Request, declared: Endpoint | None, identity: Identity | None
    ) -> list[Quota]:
        """The counters this request falls under: its role's and its endpoint group's."""
        if declared is not None and declared.tag == "docs":
            return []  # the documentation pages and bundles: cheap, and loaded in bursts
        client = f"user:{identity.user_id}" if identity else f"ip:{client_address(request)}"
        group = declared.group if declared else None
        group_limit = self.limits.group_limit(group) if group else None
        quotas: list[Quota] = []
        if group_limit is not None:
            quotas.append(Quota(f"group:{group}:{client}", group_limit))
        # A health probe counts only against the health group, so a monitor polling
        # /health is never starved by the anonymous limit.
        if group != "health":
            if identity is None:
                quotas.append(Quota(f"anonymous:{client}", self.limits.anonymous))
            elif identity.role is Role.ADMIN:
                quotas.append(Quota(f"admin:{client}", self.limits.admin))
            else:
                quotas.append(Quota(f"authenticated:{client}", self.limits.authenticated))
        return quotas


def _credential(request: web.Request, declared: Endpoint | None) -> str | None:
    """The bearer token or API key the request carries; Unauthorized for one no token can be
    (bytes that are not ASCII, which aiohttp hands over as escaped surrogates)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    credential: str | None = None
    if scheme.lower() == "bearer" and value.strip():
        credential = value.strip()
    elif declared is not None and declared.token_in_query:
        credential = request.query.get("token") or None
    if credential is not None and not (credential.isascii() and credential.isprintable()):
        raise Unauthorized("Malformed credentials: a token is printable ASCII")
    return credential


async def authorize(policy: AccessPolicy, request: web.Request, exchange: Exchange) -> None:
    """Authenticate, rate-limit, then check the route's permission; raises the refusal."""
    declared = endpoint_of(request.match_info.handler)
    identity: Identity | None = None
    auth_error: Unauthorized | None = None
    try:
        credential = _credential(request, declared)
        if credential is not None:
            identity = await policy.accounts.identify(credential)
    except Unauthorized as err:
        auth_error = err
    if policy.limits.enabled:
        # Login always counts as anonymous: guessing passwords must not ride on a token.
        counted = (
            None
            if declared is not None and declared.tag == "auth" and declared.is_public
            else identity
        )
        quotas = policy.quotas(request, declared, counted)
        if quotas:
            verdict = policy.limiter.hit(quotas)
            # Stamped on whatever answer goes out, streams and upgrades included.
            exchange.rate_limit = verdict.headers()
            if not verdict.allowed:
                raise RateLimited(
                    f"Too many requests; retry in {verdict.retry_after}s",
                    {"limit": verdict.limit, "retryAfter": verdict.retry_after},
                    headers=verdict.headers(),
                )
    if declared is not None and not declared.is_public:
        if identity is None:
            refusal = auth_error or Unauthorized("Authentication required")
            refusal.headers.setdefault("WWW-Authenticate", 'Bearer realm="homei"')
            raise refusal
        assert declared.permission is not None
        if not identity.can(declared.permission):
            raise Forbidden(
                f"Role '{identity.role}' lacks the '{declared.permission}' permission",
                {"required": str(declared.permission), "role": str(identity.role)},
            )
    exchange.identity = identity


def install(
    app: web.Application,
    metrics: ApiMetrics,
    access_log: AccessLog | None,
    policy: AccessPolicy,
) -> None:
    """Put the request pipeline in front of every route of `app`."""
    app.middlewares.append(make_error_middleware(metrics, access_log, policy))
    app.on_response_prepare.append(_stamp_headers)
