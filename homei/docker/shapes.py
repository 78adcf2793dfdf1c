"""Containers as seed 001 shows them: typed records made once from Docker's answers.

Docker's list answer is decoded straight into `described.Listed` structs (only the fields
shown), and each becomes a `ContainerSummary`; nothing is decoded into dictionaries first.
"""

from __future__ import annotations

import msgspec

from homei.core.clock import from_epoch
from homei.docker.described import Binding, Inspected, Listed
from homei.services.instance import MANAGED_LABEL, SERVICE_LABEL, Usage


# --- what the API shows --------------------------------------------------------------------
class PortOut(msgspec.Struct):
    private_port: int | None
    public_port: int | None
    type: str
    ip: str | None


class ContainerSummary(msgspec.Struct):
    id: str
    full_id: str
    name: str
    image: str
    status: str
    status_text: str
    managed: bool
    service: str | None
    created_at: str | None
    labels: dict[str, str]
    ports: list[PortOut]


class ContainerStateOut(msgspec.Struct):
    status: str
    running: bool
    paused: bool
    restarting: bool
    pid: int
    exit_code: int
    error: str
    started_at: str | None
    finished_at: str | None
    health: str | None


class ContainerConfigOut(msgspec.Struct):
    hostname: str
    env: list[str]
    cmd: list[str]
    entrypoint: list[str]
    labels: dict[str, str]


class PortBinding(msgspec.Struct):
    host_ip: str
    host_port: str


class NetworkSettingsOut(msgspec.Struct):
    ports: dict[str, list[PortBinding]]


class ContainerDetail(msgspec.Struct):
    id: str
    full_id: str
    name: str
    image: str
    status: str
    managed: bool
    service: str | None
    created_at: str | None
    restart_count: int
    state: ContainerStateOut
    config: ContainerConfigOut
    network_settings: NetworkSettingsOut


class MemoryUsage(msgspec.Struct):
    usage: int
    limit: int
    percent: float


class NetworkIO(msgspec.Struct):
    rx_bytes: int
    tx_bytes: int


class BlockIO(msgspec.Struct):
    read_bytes: int
    write_bytes: int


class ContainerStats(msgspec.Struct):
    cpu_percent: float
    online_cpus: int
    memory_usage: MemoryUsage
    network_io: NetworkIO
    block_io: BlockIO
    pids: int
    read_at: str | None


def is_managed(labels: dict[str, str]) -> bool:
    """Made by Homei."""
    return labels.get(MANAGED_LABEL) == "true"


def summary(raw: Listed) -> ContainerSummary:
    """One entry of `docker ps` in 001's list shape."""
    labels = raw.labels or {}
    return ContainerSummary(
        id=raw.id[:12],
        full_id=raw.id,
        name=(raw.names or [""])[0].lstrip("/"),
        image=raw.image,
        status=raw.state,
        status_text=raw.status,
        managed=is_managed(labels),
        service=labels.get(SERVICE_LABEL),
        created_at=from_epoch(raw.created) if raw.created else None,
        labels=labels,
        ports=[PortOut(p.private_port, p.public_port, p.type, p.ip) for p in raw.ports or []],
    )


def _bindings(entries: list[Binding] | None) -> list[PortBinding]:
    return [PortBinding(b.host_ip, b.host_port) for b in entries or []]


def detail(raw: Inspected) -> ContainerDetail:
    """`docker inspect` in 001's shape."""
    config, state, labels = raw.config, raw.state, raw.labels
    return ContainerDetail(
        id=raw.id[:12],
        full_id=raw.id,
        name=raw.container_name,
        image=config.image,
        status=state.status,
        managed=is_managed(labels),
        service=labels.get(SERVICE_LABEL),
        created_at=raw.created,
        restart_count=raw.restart_count,
        state=ContainerStateOut(
            status=state.status,
            running=state.running,
            paused=state.paused,
            restarting=state.restarting,
            pid=state.pid,
            exit_code=state.exit_code,
            error=state.error,
            started_at=state.started_at,
            finished_at=state.finished_at,
            health=state.health.status if state.health else None,
        ),
        config=ContainerConfigOut(
            hostname=config.hostname,
            env=config.env or [],
            cmd=config.cmd or [],
            entrypoint=config.entrypoint or [],
            labels=labels,
        ),
        network_settings=NetworkSettingsOut(
            {port: _bindings(b) for port, b in (raw.network_settings.ports or {}).items()}
        ),
    )


def stats(usage: Usage) -> ContainerStats:
    """Resource use in 001's shape."""
    limit = usage.memory_limit
    return ContainerStats(
        cpu_percent=usage.cpu_percent,
        online_cpus=usage.online_cpus,
        memory_usage=MemoryUsage(
            usage.memory, limit, round(usage.memory / limit * 100.0, 3) if limit else 0.0
        ),
        network_io=NetworkIO(usage.rx_bytes, usage.tx_bytes),
        block_io=BlockIO(usage.read_bytes, usage.write_bytes),
        pids=usage.pids,
        read_at=usage.read_at,
    )
