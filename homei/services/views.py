"""What the API shows of a service: seed 001's flat fields and seed 000's nested ones in one
superset shape, with the container's live state, health and logs."""

from __future__ import annotations

import asyncio
from typing import Any

from homei.docker.containers import Containers
from homei.docker.runtime import DockerRuntime
from homei.services.health import HealthMonitor
from homei.services.spec import ServiceSpec
from homei.services.store import Declared


def status_of(declared: Declared, inspected: dict[str, Any] | None, busy: str | None) -> str:
    """installing / updating / running / paused / restarting / stopped / missing."""
    if busy:
        return busy
    if inspected is None:
        return "missing" if declared.should_run else "stopped"
    state = inspected.get("State") or {}
    if state.get("Paused"):
        return "paused"
    if state.get("Restarting"):
        return "restarting"
    return "running" if state.get("Running") else "stopped"


def config_of(spec: ServiceSpec) -> dict[str, Any]:
    """000's nested `config`."""
    return {
        "image": spec.image,
        "ports": list(spec.ports),
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
            "interval": spec.healthcheck.interval,
            "timeout": spec.healthcheck.timeout,
            "retries": spec.healthcheck.retries,
            "start_period": spec.healthcheck.start_period,
        },
    }


def container_of(inspected: dict[str, Any] | None) -> list[dict[str, Any]]:
    if inspected is None:
        return []
    state = inspected.get("State") or {}
    return [
        {
            "id": str(inspected.get("Id", ""))[:12],
            "name": str(inspected.get("Name", "")).lstrip("/"),
            "state": state.get("Status", ""),
            "uptime": state.get("StartedAt") if state.get("Running") else None,
            "restartCount": int(inspected.get("RestartCount") or 0),
        }
    ]


def view(
    declared: Declared,
    inspected: dict[str, Any] | None,
    health: dict[str, Any],
    busy: str | None,
) -> dict[str, Any]:
    """One service in the superset shape."""
    spec = declared.spec
    labels = {**spec.labels, "io.homei.managed": "true", "io.homei.service": spec.name}
    return {
        "id": spec.name,
        "name": spec.name,
        "image": spec.image,
        "category": spec.category,
        "version": spec.version or _tag(spec.image),
        "description": spec.description,
        "status": status_of(declared, inspected, busy),
        "health": health,
        "enabled": spec.enabled,
        "critical": spec.critical,
        "desired_state": declared.desired,
        "restart_policy": spec.restart_policy,
        "environment": dict(spec.environment),
        "ports": list(spec.ports),
        "volumes": [v.as_string() for v in spec.volumes],
        "networks": list(spec.networks),
        "depends_on": list(spec.depends_on),
        "dependencies": list(spec.depends_on),
        "labels": labels,
        "cpu_limit": spec.cpu_limit,
        "memory_limit": spec.memory_limit,
        "backup_mode": spec.backup_mode,
        "restarts": declared.restarts,
        "config": config_of(spec),
        "containers": container_of(inspected),
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

    def __init__(
        self, runtime: DockerRuntime, containers: Containers, monitor: HealthMonitor
    ) -> None:
        self._runtime = runtime
        self._containers = containers
        self._monitor = monitor

    async def inspected_all(self, names: list[str]) -> dict[str, dict[str, Any] | None]:
        found = await asyncio.gather(*(self._runtime.inspect(n) for n in names))
        return dict(zip(names, found, strict=True))

    def health(self, name: str) -> dict[str, Any]:
        return self._monitor.get(name).as_dict()

    async def logs(
        self, name: str, *, tail: int, since: int | None, timestamps: bool
    ) -> list[dict[str, Any]]:
        """000's log entries: both streams, each line with its time and stream, oldest first."""
        entries: list[tuple[str, str, str]] = []
        for stream in ("stdout", "stderr"):
            lines = await self._containers.logs(
                name, tail=tail, since=since, timestamps=True, streams=(stream,)
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
