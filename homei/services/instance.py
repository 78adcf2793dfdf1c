"""A service's running instance as every runtime reports it: typed states and a frozen record.

A runtime (Docker's containers, systemd's units) reads its own description of an instance
once and answers with an `InstanceState`; nobody outside the runtime reads that description.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import msgspec

from homei.core.errors import Conflict, HomeiError, NotFound, ValidationError

# Homei's marks on everything it creates, whatever the runtime.
MANAGED_LABEL = "io.homei.managed"
SERVICE_LABEL = "io.homei.service"
HASH_LABEL = "io.homei.spec-hash"
# A keyed hash of the configuration an instance was made with (see homei.config.injection).
CONFIG_HASH_LABEL = "io.homei.config-hash"


class ServiceStatus(StrEnum):
    """What the API shows as a service's `status`."""

    INSTALLING = "installing"
    UPDATING = "updating"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    STOPPED = "stopped"
    MISSING = "missing"


class InstanceStatus(StrEnum):
    """An instance's state, in Docker's words for a container's."""

    CREATED = "created"
    RESTARTING = "restarting"
    RUNNING = "running"
    REMOVING = "removing"
    PAUSED = "paused"
    EXITED = "exited"
    DEAD = "dead"


class HealthStatus(StrEnum):
    """A service's health, as Homei's checks and the instance's own check find it."""

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    STARTING = "starting"
    STOPPED = "stopped"


class PublishedPort(msgspec.Struct, frozen=True):
    """A port bound on the host: `host_port` empty when the runtime picks one."""

    ip: str
    host_port: str
    container: int
    protocol: str


class Applied(msgspec.Struct, frozen=True):
    """What an instance was made with, as the runtime reports it back (for drift)."""

    image: str = ""
    command: tuple[str, ...] | None = None
    environment: frozenset[str] = frozenset()  # "NAME=value"
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    ports: frozenset[PublishedPort] = frozenset()
    binds: frozenset[str] = frozenset()  # "source:target[:ro]"
    restart_policy: str = ""
    memory: int = 0
    nano_cpus: int = 0
    privileged: bool = False


class NativeState(msgspec.Struct, frozen=True):
    """What a systemd unit reports beyond every runtime's state (seed 003's fields)."""

    active_state: str  # systemd's ActiveState, e.g. `active`
    sub_state: str  # its SubState, e.g. `running`
    pid: int  # MainPID; 0 while it has none
    unit_hash: str | None  # the hash the unit file was written with


class InstanceState(msgspec.Struct, frozen=True):
    """One instance of a service, as its runtime found it."""

    id: str
    name: str
    status: InstanceStatus
    running: bool = False
    paused: bool = False
    restarting: bool = False
    exit_code: int = 0
    restart_count: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    health: HealthStatus | None = None  # the instance's own healthcheck, when it has one
    address: str | None = None  # where Homei's checks reach it
    applied: Applied = msgspec.field(default_factory=Applied)
    native: NativeState | None = None  # a systemd unit's own figures

    @property
    def is_homei(self) -> bool:
        """Made by Homei (its labels say so)."""
        return self.applied.labels.get(MANAGED_LABEL) == "true"

    def belongs_to(self, service: str) -> bool:
        """Made by Homei for `service`."""
        return self.is_homei and self.applied.labels.get(SERVICE_LABEL) == service

    @property
    def uptime(self) -> float | None:
        """Seconds since it started, while it runs."""
        return age(self.started_at) if self.running else None


class InstanceRef(msgspec.Struct, frozen=True):
    """An instance as a listing names it: enough to remove it or tell whose it is."""

    id: str
    name: str
    service: str | None


class Usage(msgspec.Struct, frozen=True):
    """Resource use from one reading; `cpu_percent` when the runtime could measure it."""

    cpu_total: int = 0  # cumulative CPU time of the instance, in nanoseconds
    system_total: int = 0  # cumulative CPU time of the host, in nanoseconds
    online_cpus: int = 1
    cpu_percent: float = 0.0
    memory: int = 0
    memory_limit: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    read_bytes: int = 0
    write_bytes: int = 0
    pids: int = 0
    read_at: str | None = None


class RuntimeFailure(HomeiError):
    """The runtime refused or failed an operation."""

    code = "RUNTIME_ERROR"
    status = 500


class RuntimeUnavailable(RuntimeFailure):
    """The runtime does not answer: 503 until it does again."""

    status = 503


class InstanceNotFound(NotFound):
    """No such instance (seed 001's CONTAINER_NOT_FOUND)."""

    code = "CONTAINER_NOT_FOUND"


class ImageMissing(ValidationError):
    code = "INVALID_CONFIG"


class PortTaken(Conflict):
    code = "INVALID_CONFIG"


class PortInUse(Conflict):
    """A native service's `port` is another service's or bound on the device (seed 003)."""

    code = "PORT_IN_USE"


def age(started_at: str | None) -> float:
    """Seconds since an RFC 3339 time (0 when unknown)."""
    if not started_at:
        return 0.0
    try:
        started = datetime.fromisoformat(started_at[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return 1e9
    return (datetime.now(UTC) - started).total_seconds()
