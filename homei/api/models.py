"""Models shared by several resources; each resource keeps its own beside its handlers."""

from __future__ import annotations

from typing import Any

import msgspec


class ErrorBody(msgspec.Struct):
    code: str
    message: str
    details: dict[str, Any]


class ErrorEnvelope(msgspec.Struct):
    """Every error response, whatever the route."""

    error: ErrorBody
    timestamp: str


class StatusMessage(msgspec.Struct):
    """The `{status, message}` acknowledgement of 001."""

    status: str
    message: str
