"""Docker's descriptions of a container, decoded once, straight into structs.

`docker inspect` and `docker stats` answers are decoded into the few fields Homei reads,
then turned into the service model's `InstanceState` and `Usage`. Only this package reads
them; everyone else sees the typed records.
"""

from __future__ import annotations

from typing import Any

import msgspec

from homei.services.instance import (
    Applied,
    HealthStatus,
    InstanceState,
    InstanceStatus,
    PublishedPort,
    Usage,
)

_STATUSES = {status.value: status for status in InstanceStatus}
_HEALTH = {"healthy": HealthStatus.HEALTHY, "unhealthy": HealthStatus.UNHEALTHY}
_HEALTH["starting"] = HealthStatus.STARTING


class _Struct(msgspec.Struct, rename="pascal"):
    """Docker spells its fields in PascalCase."""


class Health(_Struct):
    status: str = ""


class State(_Struct):
    status: str = ""
    running: bool = False
    paused: bool = False
    restarting: bool = False
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    health: Health | None = None


class Config(_Struct):
    image: str = ""
    hostname: str = ""
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    env: list[str] | None = None
    labels: dict[str, str] | None = None
    tty: bool = False


class Binding(_Struct):
    host_ip: str = ""
    host_port: str = ""


class RestartPolicy(_Struct):
    name: str = ""


class HostConfig(_Struct):
    port_bindings: dict[str, list[Binding] | None] | None = None
    binds: list[str] | None = None
    restart_policy: RestartPolicy | None = None
    memory: int = 0
    nano_cpus: int = 0
    privileged: bool = False


class Endpoint(msgspec.Struct):
    ip_address: str = msgspec.field(default="", name="IPAddress")


class NetworkSettings(_Struct):
    ports: dict[str, list[Binding] | None] | None = None
    networks: dict[str, Endpoint] | None = None


class Inspected(_Struct):
    """`GET /containers/{id}/json`, as far as Homei reads it."""

    id: str
    name: str = ""
    created: str | None = None
    restart_count: int = 0
    state: State = msgspec.field(default_factory=State)
    config: Config = msgspec.field(default_factory=Config)
    host_config: HostConfig = msgspec.field(default_factory=HostConfig)
    network_settings: NetworkSettings = msgspec.field(default_factory=NetworkSettings)

    @property
    def container_name(self) -> str:
        return self.name.lstrip("/")

    @property
    def labels(self) -> dict[str, str]:
        return self.config.labels or {}


def _published(bindings: dict[str, list[Binding] | None] | None) -> frozenset[PublishedPort]:
    ports = set()
    for key, entries in (bindings or {}).items():
        number, _, protocol = key.partition("/")
        for entry in entries or []:
            ports.add(PublishedPort(entry.host_ip, entry.host_port, int(number), protocol or "tcp"))
    return frozenset(ports)


def instance_state(raw: Inspected) -> InstanceState:
    """The container as the service model reads it."""
    state, config, host = raw.state, raw.config, raw.host_config
    address = next(
        (n.ip_address for n in (raw.network_settings.networks or {}).values() if n.ip_address),
        None,
    )
    return InstanceState(
        id=raw.id,
        name=raw.container_name,
        status=_STATUSES.get(state.status, InstanceStatus.EXITED),
        running=state.running,
        paused=state.paused,
        restarting=state.restarting,
        exit_code=state.exit_code,
        restart_count=raw.restart_count,
        started_at=state.started_at,
        finished_at=state.finished_at,
        health=_HEALTH.get(state.health.status) if state.health else None,
        address=address,
        applied=Applied(
            image=config.image,
            command=tuple(config.cmd) if config.cmd is not None else None,
            environment=frozenset(config.env or ()),
            labels=raw.labels,
            ports=_published(host.port_bindings),
            binds=frozenset(host.binds or ()),
            restart_policy=host.restart_policy.name if host.restart_policy else "",
            memory=host.memory,
            nano_cpus=host.nano_cpus,
            privileged=host.privileged,
        ),
    )


# --- lists, volumes, networks --------------------------------------------------------------
class ListedPort(
    msgspec.Struct,
    rename={"ip": "IP", "private_port": "PrivatePort", "public_port": "PublicPort", "type": "Type"},
):
    ip: str | None = None
    private_port: int | None = None
    public_port: int | None = None
    type: str = "tcp"


class Listed(msgspec.Struct, rename="pascal"):
    """One entry of `GET /containers/json`."""

    id: str
    names: list[str] | None = None
    image: str = ""
    state: str = ""
    status: str = ""
    created: int = 0
    labels: dict[str, str] | None = None
    ports: list[ListedPort] | None = None


class Volume(msgspec.Struct, rename="pascal"):
    mountpoint: str = ""


class Network(msgspec.Struct, rename="pascal"):
    labels: dict[str, str] | None = None
    containers: dict[str, Any] | None = None


# --- stats ---------------------------------------------------------------------------------
class _CpuUsage(msgspec.Struct):
    total_usage: int = 0
    percpu_usage: list[int] | None = None


class _Cpu(msgspec.Struct):
    cpu_usage: _CpuUsage = msgspec.field(default_factory=_CpuUsage)
    system_cpu_usage: int = 0
    online_cpus: int = 0


class _Memory(msgspec.Struct):
    usage: int = 0
    limit: int = 0
    stats: dict[str, int] | None = None


class _Network(msgspec.Struct):
    rx_bytes: int = 0
    tx_bytes: int = 0


class _IoEntry(msgspec.Struct):
    op: str = ""
    value: int = 0


class _Blkio(msgspec.Struct):
    io_service_bytes_recursive: list[_IoEntry] | None = None


class _Pids(msgspec.Struct):
    current: int = 0


class Stats(msgspec.Struct):
    """One `GET /containers/{id}/stats?stream=0` answer."""

    read: str | None = None
    cpu_stats: _Cpu = msgspec.field(default_factory=_Cpu)
    precpu_stats: _Cpu = msgspec.field(default_factory=_Cpu)
    memory_stats: _Memory = msgspec.field(default_factory=_Memory)
    networks: dict[str, _Network] | None = None
    blkio_stats: _Blkio = msgspec.field(default_factory=_Blkio)
    pids_stats: _Pids = msgspec.field(default_factory=_Pids)


def usage(raw: Stats) -> Usage:
    """Resource use from one stats answer, the CPU percent computed as `docker stats` does
    (zero when the answer holds one reading only)."""
    cpu, precpu = raw.cpu_stats, raw.precpu_stats
    cpu_delta = cpu.cpu_usage.total_usage - precpu.cpu_usage.total_usage
    system_delta = cpu.system_cpu_usage - precpu.system_cpu_usage
    online = cpu.online_cpus or len(cpu.cpu_usage.percpu_usage or []) or 1
    percent = cpu_delta / system_delta * online * 100.0 if system_delta > 0 and cpu_delta > 0 else 0
    memory = raw.memory_stats
    detail = memory.stats or {}
    # cgroup v1 counts the page cache in `usage`, v2 reports it as `inactive_file`.
    cache = detail.get("total_inactive_file", detail.get("inactive_file", detail.get("cache", 0)))
    networks = (raw.networks or {}).values()
    io = raw.blkio_stats.io_service_bytes_recursive or []
    return Usage(
        cpu_total=cpu.cpu_usage.total_usage,
        system_total=cpu.system_cpu_usage,
        online_cpus=online,
        cpu_percent=round(percent, 3),
        memory=max(0, memory.usage - cache),
        memory_limit=memory.limit,
        rx_bytes=sum(n.rx_bytes for n in networks),
        tx_bytes=sum(n.tx_bytes for n in networks),
        read_bytes=sum(e.value for e in io if e.op.lower() == "read"),
        write_bytes=sum(e.value for e in io if e.op.lower() == "write"),
        pids=raw.pids_stats.current,
        read_at=raw.read,
    )
