"""What every request passes through: request id, access log, metrics, the one
error envelope, authentication, rate limits and permissions."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_exceptions import HTTPException

from homei.api.accesslog import AccessLog
from homei.api.routing import Endpoint, endpoint_of, json_response
from homei.core.accounts import Accounts
from homei.core.auth import Identity, Role
from homei.core.errors import Forbidden, HomeiError, RateLimited, Unauthorized, error_envelope
from homei.core.ratelimit import Quota, RateLimiter
from homei.monitor.api_metrics import ApiMetrics
from homei.settings import RateLimitSettings

_LOGGER = logging.getLogger(__name__)

REQUEST_ID = "X-Request-ID"
# aiohttp 3.12+ types request storage; the string keys keep older releases (the
# device image's) working.
IDENTITY: Any = (
    web.RequestKey("identity", Identity) if hasattr(web, "RequestKey") else "homei.identity"
)
REQUEST_ID_KEY: Any = (
    web.RequestKey("request_id", str) if hasattr(web, "RequestKey") else "homei.request_id"
)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_HTTP_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}
_HTTP_MESSAGES = {
    404: "No such route",
    405: "Method not allowed on this route",
    413: "Request body too large",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def identity_of(request: web.Request) -> Identity:
    """The authenticated caller; only for routes that require a token."""
    identity: Identity | None = request.get(IDENTITY)
    if identity is None:
        raise Unauthorized("Authentication required")
    return identity


def client_address(request: web.Request) -> str:
    """The peer's address (the daemon is reached directly, not through a proxy)."""
    return request.remote or "unknown"


def _error_response(err: HomeiError, request_id: str) -> web.Response:
    headers = {**err.headers, REQUEST_ID: request_id}
    return json_response(err.envelope(), err.status, headers)


def _http_error_response(exc: HTTPException, request_id: str) -> web.Response:
    status = exc.status
    code = _HTTP_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "HTTP_ERROR")
    message = _HTTP_MESSAGES.get(status) or exc.reason
    details: dict[str, object] = {}
    headers = {
        k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")
    }
    headers[REQUEST_ID] = request_id
    if status == 405 and isinstance(exc, web.HTTPMethodNotAllowed):
        details = {"method": exc.method, "allowed": sorted(exc.allowed_methods)}
        headers["Allow"] = ",".join(sorted(exc.allowed_methods))
    return json_response(error_envelope(code, message, details), status, headers)


def make_error_middleware(
    metrics: ApiMetrics, access_log: AccessLog | None = None
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Request id, timing, access log, metrics, and the error envelope for every failure."""

    @web.middleware
    async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        given = request.headers.get(REQUEST_ID, "")
        request_id = given if _CLIENT_ID.match(given) else secrets.token_hex(8)
        request[REQUEST_ID_KEY] = request_id
        try:
            response = await handler(request)
        except HomeiError as err:
            response = _error_response(err, request_id)
        except HTTPException as exc:
            if exc.status < 400:
                exc.headers[REQUEST_ID] = request_id
                raise
            response = _http_error_response(exc, request_id)
        except Exception:
            _LOGGER.exception(
                "Unhandled error in %s %s [%s]", request.method, request.path, request_id
            )
            response = json_response(
                error_envelope(
                    "INTERNAL_ERROR", "Internal server error", {"requestId": request_id}
                ),
                500,
                {REQUEST_ID: request_id},
            )
        else:
            if not response.prepared:
                response.headers[REQUEST_ID] = request_id
        elapsed = time.perf_counter() - started
        route = request.match_info.route.resource
        template = route.canonical if route is not None else "unmatched"
        metrics.observe(request.method, template, response.status, elapsed)
        if access_log is not None:
            access_log.record(
                client_address(request),
                request.method,
                request.path_qs,
                response.status,
                elapsed,
                request_id,
            )
        return response

    return errors_middleware


@dataclass(frozen=True, slots=True)
class AccessPolicy:
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
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if declared is not None and declared.token_in_query:
        return request.query.get("token") or None
    return None


def make_access_middleware(policy: AccessPolicy) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Authenticate, rate-limit, then check the route's permission."""

    @web.middleware
    async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        declared = endpoint_of(request.match_info.handler)
        credential = _credential(request, declared)
        identity: Identity | None = None
        auth_error: Unauthorized | None = None
        if credential is not None:
            try:
                identity = await policy.accounts.identify(credential)
            except Unauthorized as err:
                auth_error = err
        # Login always counts as anonymous: guessing passwords must not ride on a token.
        counted = (
            None
            if declared is not None and declared.tag == "auth" and declared.is_public
            else identity
        )
        verdict = None
        if policy.limits.enabled:
            verdict = policy.limiter.hit(policy.quotas(request, declared, counted))
            if not verdict.allowed:
                raise RateLimited(
                    f"Too many requests; retry in {verdict.retry_after}s",
                    {"limit": verdict.limit, "retryAfter": verdict.retry_after},
                    headers=verdict.headers(),
                )
        if declared is not None and not declared.is_public:
            if identity is None:
                refusal = auth_error or Unauthorized("Authentication required")
                if verdict is not None:
                    refusal.headers.update(verdict.headers())
                refusal.headers.setdefault("WWW-Authenticate", 'Bearer realm="homei"')
                raise refusal
            assert declared.permission is not None
            if not identity.can(declared.permission):
                raise Forbidden(
                    f"Role '{identity.role}' lacks the '{declared.permission}' permission",
                    {"required": str(declared.permission), "role": str(identity.role)},
                    headers=verdict.headers() if verdict else None,
                )
            request[IDENTITY] = identity
        elif identity is not None:
            request[IDENTITY] = identity
        try:
            response = await handler(request)
        except HomeiError as err:
            if verdict is not None:
                for key, value in verdict.headers().items():
                    err.headers.setdefault(key, value)
            raise
        except HTTPException as exc:
            if verdict is not None:
                exc.headers.update(verdict.headers())
            raise
        if verdict is not None and not response.prepared:
            response.headers.update(verdict.headers())
        return response

    return access_middleware
