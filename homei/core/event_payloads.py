"""The shape of each event's `data`, as `core/event_types.py` registers them by name."""

from __future__ import annotations

from typing import Any

import msgspec


class Payload(msgspec.Struct, kw_only=True):
    """An event's `data`; publishers may add fields, a client ignores what it does not know."""


class Connected(Payload):
    """The first message of every stream: the patterns it was opened with."""

    patterns: list[str]


class ServiceRef(Payload):
    service: str


class ServiceInstalled(ServiceRef):
    version: str | None = None
    status: str = "installed"


class ServiceImage(ServiceRef):
    """`service:updated`, and `service:restarted` by a user (`image`) or by the health
    monitor (`reason: unhealthy`)."""

    image: str | None = None
    reason: str | None = None


class ServiceUninstalled(ServiceRef):
    remove_data: bool = msgspec.field(name="removeData", default=False)


class ServiceDrift(ServiceRef):
    fields: list[str]


class OrphanRemoved(ServiceRef):
    container: str


class HealthChanged(ServiceRef):
    previous: str | None
    status: str
    error: str | None = None


class Alert(Payload):
    severity: str
    message: str
    service: str | None = None
    schedule: str | None = None


class AlertChange(Payload):
    """`alert:firing`, `alert:resolved`, `alert:acknowledged`: the alert as `/alerts` lists it."""

    id: str
    level: str
    message: str
    source: str
    state: str
    rule: str
    subject: str
    details: dict[str, Any]
    timestamp: str


class TaskRef(Payload):
    task_id: str = msgspec.field(name="taskId")


class TaskCreated(TaskRef):
    type: str
    service: str | None = None


class TaskProgress(TaskRef):
    progress: int
    message: str | None = None


class TaskCompleted(TaskRef):
    result: dict[str, Any]


class TaskFailed(TaskRef):
    error: str


class ContainerEvent(Payload):
    """Docker's container events, as the engine reports them."""

    container_id: str
    name: str | None
    image: str | None
    managed: bool
    service: str | None
    exit_code: str | None


class LoadedImages(Payload):
    images: list[str]
    size: int


class UpdateStarted(TaskRef):
    bundle: str


class UpdateProgress(Payload):
    percentage: int
    message: str
    depth: int


class UpdateCompleted(TaskRef):
    bundle: str
    version: str
    compatible: str
    slot: str | None
    message: str


class UpdateFailed(TaskRef):
    bundle: str
    error: str


class UpdateVerifying(Payload):
    slot: str | None
    window: float


class UpdateVerified(Payload):
    slot: str | None
    rauc_slot: str | None
    bundle: str | None


class UpdateRejected(Payload):
    slot: str | None
    bundle: str | None
    reason: str


class UpdateRolledBack(Payload):
    bundle: str | None
    slot: str | None
    booted: str | None
    message: str


class BackupRef(Payload):
    backup: str


class BackupTask(BackupRef):
    task_id: str = msgspec.field(name="taskId")


class BackupProgress(BackupTask):
    action: str
    bytes_done: int
    bytes_total: int
    progress: int


class BackupCompleted(BackupRef):
    size: int
    duration: float


class BackupFailed(BackupRef):
    error: str


class BackupUploaded(BackupRef):
    size: int


class BackupRestored(BackupRef):
    homei: bool
    services: list[str]
    settings_changed: bool


class ConfigChanged(Payload):
    keys: list[str]
    actor: str


class ConfigReloaded(ServiceRef):
    method: str


class JobRef(Payload):
    job_id: str


class JobCreated(JobRef):
    name: str
    system_ids: list[str]


class JobStarted(JobRef):
    due_at: str


class JobExecutionChanged(JobRef):
    execution_id: str
    system_id: str
    status: str
    exit_code: int | None = None
    error_message: str | None = None


class OutputChunk(msgspec.Struct, frozen=True):
    """A piece of one execution's output; `offset` counts the characters of its stream
    before it, so a watcher joining late can tell what it has already seen."""

    execution_id: str
    system_id: str
    stream: str
    offset: int
    text: str


class JobOutput(JobRef):
    chunks: list[OutputChunk]


class JobFinished(JobRef):
    status: str


class ConfigUpdated(ServiceRef):
    """A service's configuration has a new version (its keys only: never a value)."""

    environment: str
    version: int
    variables: list[str]
    secrets: list[str]


class SecretRotated(ServiceRef):
    """A secret has a new value (its name only, never a value)."""

    secret: str
    environment: str
    version: int


class SecretRotationFailed(SecretRotated):
    """A rotation the service did not take; `version` holds the previous value again."""

    reason: str


class FleetPolled(Payload):
    links: list[str]
    sleep: float
    at: str


class FleetAction(Payload):
    action: str
    state: str
    message: str


class FleetFeedback(Payload):
    action: str
    kind: str
    execution: str
    finished: str
    details: list[str]
