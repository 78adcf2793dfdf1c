"""Request and response models of `/api/v1/services`."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType


class VolumeIn(msgspec.Struct):
    source: str
    target: str
    read_only: bool | UnsetType = UNSET


class ServiceConfigIn(msgspec.Struct):
    """Seed 000's nested `config`."""

    image: str | UnsetType = UNSET
    ports: list[str] | UnsetType = UNSET
    volumes: list[str | VolumeIn] | UnsetType = UNSET
    environment: dict[str, str] | UnsetType = UNSET
    networks: list[str] | UnsetType = UNSET
    restart: str | UnsetType = UNSET
    dependencies: list[str] | UnsetType = UNSET
    healthcheck: dict[str, Any] | UnsetType = UNSET
    command: list[str] | UnsetType = UNSET


class ArtifactIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    version: str


class ServiceRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A service, flat (seed 001) or with a nested `config` (seed 000). Unknown fields are
    refused; the full rules are checked when the service is declared."""

    name: str | UnsetType = UNSET
    id: str | UnsetType = UNSET
    image: str | UnsetType = UNSET
    category: str | UnsetType | None = UNSET
    version: str | UnsetType | None = UNSET
    description: str | UnsetType | None = UNSET
    enabled: bool | UnsetType = UNSET
    critical: bool | UnsetType = UNSET
    restart_policy: str | UnsetType = UNSET
    restart: str | UnsetType = UNSET
    command: list[str] | UnsetType | None = UNSET
    environment: dict[str, str] | UnsetType = UNSET
    ports: list[str] | UnsetType = UNSET
    volumes: list[str | VolumeIn] | UnsetType = UNSET
    networks: list[str] | UnsetType = UNSET
    labels: dict[str, str] | UnsetType = UNSET
    depends_on: list[str] | UnsetType = UNSET
    dependencies: list[str] | UnsetType = UNSET
    healthcheck: dict[str, Any] | UnsetType | None = UNSET
    health: dict[str, Any] | UnsetType = UNSET
    reload: dict[str, Any] | UnsetType | None = UNSET
    cpu_limit: float | UnsetType | None = UNSET
    memory_limit: int | str | UnsetType | None = UNSET
    stop_timeout: int | UnsetType = UNSET
    backup_mode: str | UnsetType = UNSET
    privileged: bool | UnsetType = UNSET
    network_mode: str | UnsetType | None = UNSET
    pid_mode: str | UnsetType | None = UNSET
    cap_add: list[str] | UnsetType = UNSET
    devices: list[str] | UnsetType = UNSET
    config: ServiceConfigIn | UnsetType = UNSET
    # The configuration environment it runs with, its variables' rules, how secrets arrive.
    config_environment: str | UnsetType = UNSET
    config_schema: dict[str, dict[str, Any]] | UnsetType = UNSET
    secrets_as: str | UnsetType = UNSET
    # Native services: `runtime: "systemd"`, their program, its arguments, port and domain.
    runtime: str | UnsetType = UNSET
    artifact: ArtifactIn | UnsetType | None = UNSET
    exec: str | UnsetType | None = UNSET
    args: list[str] | UnsetType = UNSET
    port: int | UnsetType | None = UNSET
    domain: str | UnsetType | None = UNSET
    # Seed 003's body, a PocketBase service run as a systemd unit (see services/templates.py).
    project_name: str | UnsetType = UNSET
    pocketbase_version: str | UnsetType = UNSET
    created_by: str | UnsetType = UNSET
    superuser_email: str | UnsetType = UNSET


class HealthOut(msgspec.Struct):
    status: str
    lastCheck: str | None
    responseTime: float | None
    error: str | None
    failures: int
    details: dict[str, Any]


class ContainerRef(msgspec.Struct):
    id: str
    name: str
    state: str
    uptime: str | None
    restartCount: int


class ServiceOut(msgspec.Struct):
    """Seed 001's fields and seed 000's, in one shape."""

    id: str
    name: str
    image: str
    category: str | None
    version: str | None
    description: str | None
    status: str
    health: HealthOut
    enabled: bool
    critical: bool
    desired_state: str
    restart_policy: str
    environment: dict[str, str]
    ports: list[str]
    volumes: list[str]
    networks: list[str]
    depends_on: list[str]
    dependencies: list[str]
    labels: dict[str, str]
    cpu_limit: float | None
    memory_limit: int | str | None
    backup_mode: str
    restarts: int
    config: dict[str, Any]
    config_environment: str
    config_schema: dict[str, dict[str, Any]]
    secrets_as: str
    containers: list[ContainerRef]
    created_at: str
    updated_at: str
    created: str
    lastUpdated: str
    # Seed 003's fields: systemd services only, null for Docker ones.
    systemd_status: str | None = None
    systemd_sub_state: str | None = None
    is_running: bool | None = None
    pid: int | None = None
    systemd_config_hash: str | None = None
    caddy_config_hash: str | None = None
    memory_usage: str | None = None
    cpu_usage: str | None = None
    config_match: bool | None = None


class ServiceList(msgspec.Struct):
    services: list[ServiceOut]
    total: int
    page: int
    limit: int


class ServiceAccepted(msgspec.Struct):
    id: str
    name: str
    status: str
    message: str
    taskId: str


class ServiceResult(msgspec.Struct):
    name: str
    status: str
    message: str
    services: list[str] = msgspec.field(default_factory=list)


class Validation(msgspec.Struct):
    valid: bool
    errors: list[str]
    details: dict[str, Any]
