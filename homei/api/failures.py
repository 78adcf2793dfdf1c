"""Turning a failure into the answer a client gets: always the one error envelope."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.web_exceptions import HTTPException

from homei.api.routing import json_response
from homei.core.errors import HomeiError, error_envelope

_LOGGER = logging.getLogger(__name__)

REQUEST_ID = "X-Request-ID"

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


def _error_response(err: HomeiError, request_id: str) -> web.Response:
    headers = {**err.headers, REQUEST_ID: request_id}
    return json_response(err.envelope(), err.status, headers)


def http_error_envelope(status: int, reason: str) -> dict[str, Any]:
    """The envelope for an HTTP-level refusal (aiohttp's own or the protocol's)."""
    code = _HTTP_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "HTTP_ERROR")
    return error_envelope(code, _HTTP_MESSAGES.get(status) or reason)


def _http_error_response(exc: HTTPException, request_id: str) -> web.Response:
    status = exc.status
    envelope = http_error_envelope(status, exc.reason)
    headers = {
        k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")
    }
    headers[REQUEST_ID] = request_id
    if status == 405 and isinstance(exc, web.HTTPMethodNotAllowed):
        envelope["error"]["details"] = {
            "method": exc.method,
            "allowed": sorted(exc.allowed_methods),
        }
        headers["Allow"] = ",".join(sorted(exc.allowed_methods))
    return json_response(envelope, status, headers)


def failure_response(request: web.Request, exc: Exception, request_id: str) -> web.Response:
    """The envelope for a handler's failure before any byte of its answer was sent."""
    if isinstance(exc, HomeiError):
        return _error_response(exc, request_id)
    if isinstance(exc, HTTPException):
        return _http_error_response(exc, request_id)
    _LOGGER.error(
        "Unhandled error in %s %s [%s]",
        request.method,
        request.path,
        request_id,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return json_response(
        error_envelope("INTERNAL_ERROR", "Internal server error", {"requestId": request_id}),
        500,
        {REQUEST_ID: request_id},
    )
