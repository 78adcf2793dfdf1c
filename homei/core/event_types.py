"""Every event Homei publishes, by name, with the shape of its `data`: the one registry
that the WebSocket documentation is generated from and publishers are checked against."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

from homei.core.event_payloads import (
    Alert,
    AlertChange,
    BackupCompleted,
    BackupFailed,
    BackupProgress,
    BackupRef,
    BackupRestored,
    BackupTask,
    BackupUploaded,
    ConfigChanged,
    ConfigReloaded,
    ConfigUpdated,
    Connected,
    ContainerEvent,
    FleetAction,
    FleetFeedback,
    FleetPolled,
    HealthChanged,
    JobCreated,
    JobExecutionChanged,
    JobFinished,
    JobOutput,
    JobRef,
    JobStarted,
    LoadedImages,
    OrphanRemoved,
    Payload,
    SecretRotated,
    SecretRotationFailed,
    ServiceDrift,
    ServiceImage,
    ServiceInstalled,
    ServiceRef,
    ServiceUninstalled,
    TaskCompleted,
    TaskCreated,
    TaskFailed,
    TaskProgress,
    TaskRef,
    UpdateCompleted,
    UpdateFailed,
    UpdateProgress,
    UpdateRejected,
    UpdateRolledBack,
    UpdateStarted,
    UpdateVerified,
    UpdateVerifying,
)


class EventName(StrEnum):
    """The event types on the wire (`type` of each `/ws/events` message)."""

    CONNECTED = "connected"

    SERVICE_INSTALLED = "service:installed"
    SERVICE_UPDATED = "service:updated"
    SERVICE_UNINSTALLED = "service:uninstalled"
    SERVICE_STARTED = "service:started"
    SERVICE_STOPPED = "service:stopped"
    SERVICE_RESTARTED = "service:restarted"
    SERVICE_DRIFT = "service:drift"
    SERVICE_ORPHAN_REMOVED = "service:orphan:removed"
    SERVICE_ADOPTED = "service:adopted"
    SERVICE_HEALTH_CHANGED = "service:health:changed"
    HEALTH_ALERT = "health:alert"

    TASK_CREATED = "task:created"
    TASK_STARTED = "task:started"
    TASK_PROGRESS = "task:progress"
    TASK_COMPLETED = "task:completed"
    TASK_FAILED = "task:failed"
    TASK_CANCELLED = "task:cancelled"
    TASK_DELETED = "task:deleted"

    CONTAINER_CREATE = "container.create"
    CONTAINER_START = "container.start"
    CONTAINER_STOP = "container.stop"
    CONTAINER_DIE = "container.die"
    CONTAINER_KILL = "container.kill"
    CONTAINER_PAUSE = "container.pause"
    CONTAINER_UNPAUSE = "container.unpause"
    CONTAINER_RESTART = "container.restart"
    CONTAINER_DESTROY = "container.destroy"
    CONTAINER_OOM = "container.oom"
    CONTAINER_HEALTH_STATUS = "container.health_status"
    IMAGE_LOAD = "image.load"

    UPDATE_STARTED = "update:started"
    UPDATE_PROGRESS = "update:progress"
    UPDATE_COMPLETED = "update:completed"
    UPDATE_FAILED = "update:failed"
    UPDATE_VERIFYING = "update:verifying"
    UPDATE_VERIFIED = "update:verified"
    UPDATE_REJECTED = "update:rejected"
    UPDATE_ROLLED_BACK = "update:rolled_back"

    BACKUP_STARTED = "backup:started"
    BACKUP_PROGRESS = "backup:progress"
    BACKUP_COMPLETED = "backup:completed"
    BACKUP_FAILED = "backup:failed"
    BACKUP_DELETED = "backup:deleted"
    BACKUP_UPLOADED = "backup:uploaded"
    BACKUP_RESTORE_STARTED = "backup:restore_started"
    BACKUP_RESTORED = "backup:restored"
    BACKUP_RESTORE_FAILED = "backup:restore_failed"
    BACKUP_ALERT = "backup:alert"
    SYSTEM_BACKUP_COMPLETED = "system:backup:completed"
    CONFIG_UPDATED = "config:updated"

    SYSTEM_CONFIG_CHANGED = "system:config:changed"
    CONFIG_RELOADED = "config:reloaded"
    SECRET_ROTATED = "secret:rotated"  # noqa: S105 (an event name)
    SECRET_ROTATION_FAILED = "secret:rotation_failed"  # noqa: S105
    JOB_CREATED = "job:created"
    JOB_STARTED = "job:started"
    JOB_EXECUTION = "job:execution"
    JOB_OUTPUT = "job:output"
    JOB_COMPLETED = "job:completed"
    JOB_CANCELLED = "job:cancelled"
    ALERT_FIRING = "alert:firing"
    ALERT_RESOLVED = "alert:resolved"
    ALERT_ACKNOWLEDGED = "alert:acknowledged"
    FLEET_POLLED = "fleet:polled"
    FLEET_ACTION = "fleet:action"
    FLEET_FEEDBACK = "fleet:feedback"


EVENTS: dict[EventName, type[Payload]] = {
    EventName.CONNECTED: Connected,
    EventName.SERVICE_INSTALLED: ServiceInstalled,
    EventName.SERVICE_UPDATED: ServiceImage,
    EventName.SERVICE_UNINSTALLED: ServiceUninstalled,
    EventName.SERVICE_STARTED: ServiceRef,
    EventName.SERVICE_STOPPED: ServiceRef,
    EventName.SERVICE_RESTARTED: ServiceImage,
    EventName.SERVICE_DRIFT: ServiceDrift,
    EventName.SERVICE_ORPHAN_REMOVED: OrphanRemoved,
    EventName.SERVICE_ADOPTED: ServiceRef,
    EventName.SERVICE_HEALTH_CHANGED: HealthChanged,
    EventName.HEALTH_ALERT: Alert,
    EventName.TASK_CREATED: TaskCreated,
    EventName.TASK_STARTED: TaskRef,
    EventName.TASK_PROGRESS: TaskProgress,
    EventName.TASK_COMPLETED: TaskCompleted,
    EventName.TASK_FAILED: TaskFailed,
    EventName.TASK_CANCELLED: TaskRef,
    EventName.TASK_DELETED: TaskRef,
    **{name: ContainerEvent for name in EventName if name.startswith("container.")},
    EventName.IMAGE_LOAD: LoadedImages,
    EventName.UPDATE_STARTED: UpdateStarted,
    EventName.UPDATE_PROGRESS: UpdateProgress,
    EventName.UPDATE_COMPLETED: UpdateCompleted,
    EventName.UPDATE_FAILED: UpdateFailed,
    EventName.UPDATE_VERIFYING: UpdateVerifying,
    EventName.UPDATE_VERIFIED: UpdateVerified,
    EventName.UPDATE_REJECTED: UpdateRejected,
    EventName.UPDATE_ROLLED_BACK: UpdateRolledBack,
    EventName.BACKUP_STARTED: BackupTask,
    EventName.BACKUP_PROGRESS: BackupProgress,
    EventName.BACKUP_COMPLETED: BackupCompleted,
    EventName.BACKUP_FAILED: BackupFailed,
    EventName.BACKUP_DELETED: BackupRef,
    EventName.BACKUP_UPLOADED: BackupUploaded,
    EventName.BACKUP_RESTORE_STARTED: BackupTask,
    EventName.BACKUP_RESTORED: BackupRestored,
    EventName.BACKUP_RESTORE_FAILED: BackupFailed,
    EventName.BACKUP_ALERT: Alert,
    EventName.SYSTEM_BACKUP_COMPLETED: BackupCompleted,
    EventName.SYSTEM_CONFIG_CHANGED: ConfigChanged,
    EventName.CONFIG_RELOADED: ConfigReloaded,
    EventName.SECRET_ROTATED: SecretRotated,
    EventName.SECRET_ROTATION_FAILED: SecretRotationFailed,
    EventName.JOB_CREATED: JobCreated,
    EventName.JOB_STARTED: JobStarted,
    EventName.JOB_EXECUTION: JobExecutionChanged,
    EventName.JOB_OUTPUT: JobOutput,
    EventName.JOB_COMPLETED: JobFinished,
    EventName.JOB_CANCELLED: JobRef,
    EventName.CONFIG_UPDATED: ConfigUpdated,
    EventName.ALERT_FIRING: AlertChange,
    EventName.ALERT_RESOLVED: AlertChange,
    EventName.ALERT_ACKNOWLEDGED: AlertChange,
    EventName.FLEET_POLLED: FleetPolled,
    EventName.FLEET_ACTION: FleetAction,
    EventName.FLEET_FEEDBACK: FleetFeedback,
}


class EventMessage(msgspec.Struct):
    """One message of `/ws/events`; `data` is shaped by `type`, as `EVENTS` says."""

    type: EventName
    data: dict[str, Any]
    timestamp: str
    seq: int


def is_registered(name: str) -> bool:
    """True for an event type the registry describes."""
    return name in EVENTS


def check_payload(name: str, data: dict[str, Any]) -> None:
    """Raise ValueError when `name` is not registered or `data` does not fit its payload."""
    if not is_registered(name):
        raise ValueError(f"Unregistered event type {name!r}")
    try:
        msgspec.convert(data, EVENTS[EventName(name)], str_keys=True)
    except msgspec.ValidationError as err:
        raise ValueError(f"Event {name!r} does not fit its payload: {err}") from None
