"""Homei's one error model: a code, a message, details and an HTTP status."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from homei.core.clock import now_iso


class HomeiError(Exception):
    """An error a client is told about, in the envelope every route uses."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.headers: dict[str, str] = headers or {}

    def envelope(self) -> dict[str, Any]:
        """The JSON body sent to the client, with the device's internals left out."""
        return error_envelope(self.code, redact(self.message), _redact_values(self.details))


# What an OS or library error says about the device and nobody outside needs: errno
# numbers, the folders of the files and sockets it names (cut to their last part, which
# names the resource), and the resolver a failed DNS lookup asked. Paths a client sent
# itself, in a spec or a request, are left as they are.
_ERRNO = re.compile(r"\[Errno -?\d+\]\s*")
_QUOTED_PATH = re.compile(r"'/(?:[^'/]*/)*([^'/]*)'")
_SOCKET_PATH = re.compile(r"(unix socket |unix://)/(?:[\w.+@-]+/)*([\w.+@-]+)")
_RESOLVER = re.compile(r"(lookup \S+) on \S+:53\b")


def redact(text: str) -> str:
    """`text` without errno numbers, OS errors' folders, socket paths or resolver addresses."""
    if _ERRNO.search(text):
        # An OSError's text: `[Errno 2] No such file or directory: '/var/lib/...'`.
        text = _QUOTED_PATH.sub(r"'\1'", _ERRNO.sub("", text))
    text = _RESOLVER.sub(r"\1", text)
    return _SOCKET_PATH.sub(r"\1\2", text)


def _redact_values(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_values(item) for item in value]
    return value


def error_envelope(
    code: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`{"error": {"code", "message", "details"}, "timestamp"}`."""
    return {
        "error": {"code": code, "message": message, "details": details or {}},
        "timestamp": now_iso(),
    }


class ValidationError(HomeiError):
    code = "VALIDATION_ERROR"
    status = 400


class Unauthorized(HomeiError):
    code = "UNAUTHORIZED"
    status = 401


class Forbidden(HomeiError):
    code = "FORBIDDEN"
    status = 403


class NotFound(HomeiError):
    code = "NOT_FOUND"
    status = 404


class TaskNotFound(NotFound):
    code = "TASK_NOT_FOUND"


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"


class MethodNotAllowed(HomeiError):
    code = "METHOD_NOT_ALLOWED"
    status = 405


class Conflict(HomeiError):
    code = "CONFLICT"
    status = 409


class PayloadTooLarge(HomeiError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413


class UnsupportedMediaType(HomeiError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415


class InsufficientStorage(HomeiError):
    """507: the disk has no room for what was asked (an upload, a backup, a restore)."""

    code = "INSUFFICIENT_STORAGE"
    status = 507


class RateLimited(HomeiError):
    code = "RATE_LIMITED"
    status = 429


class OperationFailed(HomeiError):
    code = "OPERATION_FAILED"
    status = 500


class Unavailable(HomeiError):
    code = "SERVICE_UNAVAILABLE"
    status = 503


class ProxyError(HomeiError):
    """The reverse proxy (Caddy's admin API) does not answer or refused a change."""

    code = "PROXY_ERROR"
    status = 503


class SystemdUnavailable(Unavailable):
    """systemd does not answer on its bus (not there, or restarting)."""

    code = "SYSTEMD_ERROR"


class ConfigError(HomeiError):
    """Settings that cannot be used; the daemon refuses to start on them."""

    code = "CONFIG_ERROR"
    status = 400


class JobNotFound(NotFound):
    code = "JOB_NOT_FOUND"


class JobNotRunning(Conflict):
    code = "JOB_NOT_RUNNING"
