"""What the API shows of a service: seed 001's flat fields and seed 000's nested ones in one
superset shape, with the container's live state, health and logs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from homei.services.health import HealthMonitor
from homei.services.instance import (
    MANAGED_LABEL,
    SERVICE_LABEL,
    InstanceNotFound,
    InstanceState,
    ServiceStatus,
    Usage,
)
from homei.services.runtime import Runtime
from homei.services.spec import ServiceSpec
from homei.services.store import Declared


def status_of(
    declared: Declared, instance: InstanceState | None, busy: ServiceStatus | None
) -> ServiceStatus:
    """installing / updating / running / paused / restarting / stopped / missing."""
    if busy:
        return busy
    if instance is None:
        return ServiceStatus.MISSING if declared.should_run else ServiceStatus.STOPPED
    if instance.paused:
        return ServiceStatus.PAUSED
    if instance.restarting:
        return ServiceStatus.RESTARTING
    return ServiceStatus.RUNNING if instance.running else ServiceStatus.STOPPED


def config_of(spec: ServiceSpec) -> dict[str, Any]:
    """000's nested `config`."""
    return {
        "image": spec.image,
        "ports": [str(p) for p in spec.ports],
        "volumes": [v.as_string() for v in spec.volumes],
        "environment": dict(spec.environment),
        "networks": list(spec.networks),
        "restart": spec.restart_policy,
        "dependencies": list(spec.depends_on),
        "command": spec.command,
        "healthcheck": None
        if spec.healthcheck is None
        else {
            "test": spec.healthcheck.test,
            "interval": str(spec.healthcheck.interval),
            "timeout": str(spec.healthcheck.timeout),
            "retries": spec.healthcheck.retries,
            "start_period": str(spec.healthcheck.start_period),
        },
    }


def container_of(instance: InstanceState | None) -> list[dict[str, Any]]:
    """The service's instance as 000's `containers` list."""
    if instance is None:
        return []
    return [
        {
            "id": instance.id[:12],
            "name": instance.name,
            "state": instance.status,
            "uptime": instance.started_at if instance.running else None,
            "restartCount": instance.restart_count,
        }
    ]


def view(
    declared: Declared,
    instance: InstanceState | None,
    health: dict[str, Any],
    busy: ServiceStatus | None,
) -> dict[str, Any]:
    """One service in the superset shape."""
    spec = declared.spec
    labels = {**spec.labels, MANAGED_LABEL: "true", SERVICE_LABEL: spec.name}
    return {
        "id": spec.name,
        "name": spec.name,
        "image": spec.image,
        "category": spec.category,
        "version": spec.version or _tag(spec.image),
        "description": spec.description,
        "status": status_of(declared, instance, busy),
        "health": health,
        "enabled": spec.enabled,
        "critical": spec.critical,
        "desired_state": declared.desired,
        "restart_policy": spec.restart_policy,
        "environment": dict(spec.environment),
        "ports": [str(p) for p in spec.ports],
        "volumes": [v.as_string() for v in spec.volumes],
        "networks": list(spec.networks),
        "depends_on": list(spec.depends_on),
        "dependencies": list(spec.depends_on),
        "labels": labels,
        "cpu_limit": spec.cpu_limit,
        "memory_limit": None if spec.memory_limit is None else spec.memory_limit.text,
        "backup_mode": spec.backup_mode,
        "restarts": declared.restarts,
        "config": config_of(spec),
        "config_environment": spec.config_environment,
        "config_schema": msgspec.to_builtins(spec.config_schema),
        "secrets_as": spec.secrets_as,
        "containers": container_of(instance),
        "created_at": declared.created_at,
        "updated_at": declared.updated_at,
        "created": declared.created_at,
        "lastUpdated": declared.updated_at,
    }


def _tag(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


class ServiceViews:
    """Reads for the API: one engine listing per request, not one call per service."""

    def __init__(self, runtime: Runtime, monitor: HealthMonitor) -> None:
        self._runtime = runtime
        self._monitor = monitor

    async def instances(self, names: list[str]) -> dict[str, InstanceState | None]:
        """Each service's instance (None where it has none), read at once."""
        found = await asyncio.gather(*(self._runtime.inspect(n) for n in names))
        return dict(zip(names, found, strict=True))

    async def instance(self, name: str) -> InstanceState | None:
        """The service's instance, or None."""
        return await self._runtime.inspect(name)

    async def usage(self, name: str) -> Usage:
        """The instance's resource use now, its CPU percent measured over a moment; nothing
        for an instance that went away meanwhile (a swap, a stop)."""
        try:
            return await self._runtime.usage(name, instant=False)
        except InstanceNotFound:
            return Usage()

    def follow(
        self, name: str, *, tail: int, since: int | None, timestamps: bool
    ) -> AsyncIterator[bytes]:
        """The instance's log as it is written."""
        return self._runtime.follow(name, tail=tail, since=since, timestamps=timestamps)

    def health(self, name: str) -> dict[str, Any]:
        return self._monitor.get(name).as_dict()

    async def logs(
        self, name: str, *, tail: int, since: int | None, timestamps: bool
    ) -> list[dict[str, Any]]:
        """000's log entries: both streams, each line with its time and stream, oldest first."""
        entries: list[tuple[str, str, str]] = []
        for stream in ("stdout", "stderr"):
            lines = await self._runtime.logs(
                name, tail=tail, since=since, timestamps=True, stream=stream
            )
            for line in lines:
                stamp, _, message = line.partition(" ")
                entries.append((stamp, stream, message))
        entries.sort(key=lambda e: _sortable(e[0]))
        kept = entries[-tail:] if tail else []
        return [
            {
                "container": name,
                "timestamp": stamp if timestamps else None,
                "message": message,
                "stream": stream,
            }
            for stamp, stream, message in kept
        ]


def _sortable(stamp: str) -> str:
    """Docker trims trailing zeros of the nanoseconds; pad them so text order is time order."""
    head, dot, rest = stamp.rstrip("Z").partition(".")
    return f"{head}.{rest.ljust(9, '0')}" if dot else f"{head}.000000000"
