"""Wall-clock time in the one format Homei speaks: UTC, ISO 8601, `Z` suffix."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """`2024-01-15T10:30:00.123Z` for an aware datetime."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    """The current time as Homei writes timestamps."""
    return isoformat(utcnow())


def from_epoch(seconds: float) -> str:
    """An epoch timestamp as Homei writes timestamps."""
    return isoformat(datetime.fromtimestamp(seconds, UTC))


def monotonic() -> float:
    """Seconds on a clock that never jumps; for durations and deadlines."""
    return time.monotonic()
