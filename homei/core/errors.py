"""Homei's one error model: a code, a message, details and an HTTP status."""

from __future__ import annotations

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
        """The JSON body sent to the client."""
        return error_envelope(self.code, self.message, self.details)


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


class ConfigError(HomeiError):
    """Settings that cannot be used; the daemon refuses to start on them."""

    code = "CONFIG_ERROR"
    status = 400
