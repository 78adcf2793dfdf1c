"""Warning and critical levels of 002 (cpu, memory, disk) and the status they give a figure."""

from __future__ import annotations

from enum import StrEnum

import msgspec


class Status(StrEnum):
    HEALTHY = "healthy"
    WARNING = "warning"
    CRITICAL = "critical"


class Level(msgspec.Struct, frozen=True):
    """A figure at or above `warning` is a warning, at or above `critical` critical."""

    warning: float
    critical: float


class Thresholds(msgspec.Struct, frozen=True):
    """002's defaults: cpu and memory 80/90 %, disk 85/95 %."""

    cpu: Level = Level(80.0, 90.0)
    memory: Level = Level(80.0, 90.0)
    disk: Level = Level(85.0, 95.0)


def status_of(value: float, level: Level) -> Status:
    """The status of one figure against its level."""
    if value >= level.critical:
        return Status.CRITICAL
    if value >= level.warning:
        return Status.WARNING
    return Status.HEALTHY


def worst(*statuses: Status) -> Status:
    """The most severe of several statuses."""
    order = list(Status)
    return max(statuses, key=order.index, default=Status.HEALTHY)
