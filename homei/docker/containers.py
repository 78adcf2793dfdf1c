"""Containers as seed 001 shows them: listed, inspected, their logs and their resource use."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import msgspec

from homei.core.clock import from_epoch
from homei.core.events import EventBus
from homei.docker import logstream
from homei.docker.engine import DockerEngine, DockerError

_LOGGER = logging.getLogger(__name__)

MANAGED_LABEL = "io.homei.managed"
SERVICE_LABEL = "io.homei.service"
EVENT_ACTIONS = frozenset(
    {
        "create",
        "start",
        "stop",
        "die",
        "kill",
        "pause",
        "unpause",
        "restart",
        "destroy",
        "oom",
        "health_status",
    }
)


def _name(raw: dict[str, Any]) -> str:
    names = raw.get("Names") or [raw.get("Name", "")]
    return str(names[0]).lstrip("/")


def _is_managed(labels: dict[str, str] | None) -> bool:
    return (labels or {}).get(MANAGED_LABEL) == "true"


def summary(raw: dict[str, Any]) -> dict[str, Any]:
    """One entry of `docker ps` in 001's list shape."""
    labels = raw.get("Labels") or {}
    return {
        "id": raw["Id"][:12],
        "full_id": raw["Id"],
        "name": _name(raw),
        "image": raw.get("Image", ""),
        "status": raw.get("State", ""),
        "status_text": raw.get("Status", ""),
        "managed": _is_managed(labels),
        "service": labels.get(SERVICE_LABEL),
        "created_at": from_epoch(raw["Created"]) if raw.get("Created") else None,
        "labels": labels,
        "ports": [
            {
                "private_port": p.get("PrivatePort"),
                "public_port": p.get("PublicPort"),
                "type": p.get("Type", "tcp"),
                "ip": p.get("IP"),
            }
            for p in raw.get("Ports") or []
        ],
    }


def detail(raw: dict[str, Any]) -> dict[str, Any]:
    """`docker inspect` in 001's shape."""
    config = raw.get("Config") or {}
    state = raw.get("State") or {}
    labels = config.get("Labels") or {}
    ports = (raw.get("NetworkSettings") or {}).get("Ports") or {}
    return {
        "id": raw["Id"][:12],
        "full_id": raw["Id"],
        "name": str(raw.get("Name", "")).lstrip("/"),
        "image": config.get("Image", ""),
        "status": state.get("Status", ""),
        "managed": _is_managed(labels),
        "service": labels.get(SERVICE_LABEL),
        "created_at": raw.get("Created"),
        "restart_count": raw.get("RestartCount", 0),
        "state": {
            "status": state.get("Status", ""),
            "running": bool(state.get("Running")),
            "paused": bool(state.get("Paused")),
            "restarting": bool(state.get("Restarting")),
            "pid": state.get("Pid", 0),
            "exit_code": state.get("ExitCode", 0),
            "error": state.get("Error", ""),
            "started_at": state.get("StartedAt"),
            "finished_at": state.get("FinishedAt"),
            "health": (state.get("Health") or {}).get("Status"),
        },
        "config": {
            "hostname": config.get("Hostname", ""),
            "env": config.get("Env") or [],
            "cmd": config.get("Cmd") or [],
            "entrypoint": config.get("Entrypoint") or [],
            "labels": labels,
        },
        "network_settings": {
            "ports": {
                port: [
                    {"host_ip": b.get("HostIp", ""), "host_port": b.get("HostPort", "")}
                    for b in bindings or []
                ]
                for port, bindings in ports.items()
            },
        },
    }


def stats(raw: dict[str, Any]) -> dict[str, Any]:
    """Resource use from one Docker stats sample, computed as `docker stats` does."""
    cpu, precpu = raw.get("cpu_stats") or {}, raw.get("precpu_stats") or {}
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - precpu.get("cpu_usage", {}).get(
        "total_usage", 0
    )
    system_delta = cpu.get("system_cpu_usage", 0) - precpu.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or []) or 1
    cpu_percent = (
        cpu_delta / system_delta * online * 100.0 if system_delta > 0 and cpu_delta > 0 else 0.0
    )
    memory = raw.get("memory_stats") or {}
    memory_stats = memory.get("stats") or {}
    # cgroup v1 counts the page cache in `usage`, v2 reports it as `inactive_file`.
    cache = memory_stats.get(
        "total_inactive_file", memory_stats.get("inactive_file", memory_stats.get("cache", 0))
    )
    usage = max(0, memory.get("usage", 0) - cache)
    limit = memory.get("limit", 0)
    networks = raw.get("networks") or {}
    io = (raw.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    return {
        "cpu_percent": round(cpu_percent, 3),
        "online_cpus": online,
        "memory_usage": {
            "usage": usage,
            "limit": limit,
            "percent": round(usage / limit * 100.0, 3) if limit else 0.0,
        },
        "network_io": {
            "rx_bytes": sum(n.get("rx_bytes", 0) for n in networks.values()),
            "tx_bytes": sum(n.get("tx_bytes", 0) for n in networks.values()),
        },
        "block_io": {
            "read_bytes": sum(e.get("value", 0) for e in io if e.get("op", "").lower() == "read"),
            "write_bytes": sum(e.get("value", 0) for e in io if e.get("op", "").lower() == "write"),
        },
        "pids": (raw.get("pids_stats") or {}).get("current", 0),
        "read_at": raw.get("read"),
    }


class Containers:
    """Every container on the engine, managed by Homei or not (read-only here)."""

    def __init__(self, engine: DockerEngine, events: EventBus) -> None:
        self._engine = engine
        self._events = events
        self._watcher: asyncio.Task[None] | None = None
        # Told of every container event (action, payload) and of each (re)connection.
        self.event_listeners: builtins.list[Callable[[str, dict[str, Any]], None]] = []
        self.connect_listeners: builtins.list[Callable[[], None]] = []

    async def list(
        self, *, managed: bool | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        """Containers, filtered by Homei's label and by state."""
        filters: dict[str, list[str]] = {}
        if managed is True:
            filters["label"] = [f"{MANAGED_LABEL}=true"]
        if status is not None:
            filters["status"] = [status]
        params = {"all": "1"}
        if filters:
            params["filters"] = msgspec.json.encode(filters).decode()
        found = await self._engine.call(
            self._get_json("containers/json", params), what="Listing containers"
        )
        rows = [summary(raw) for raw in found]
        if managed is False:
            rows = [r for r in rows if not r["managed"]]
        return rows

    async def _get_json(self, path: str, params: dict[str, str]) -> Any:
        """One GET decoded with msgspec (several times faster than the json module on a
        long container list)."""
        async with self._engine.client._query(path, method="GET", params=params) as response:
            return msgspec.json.decode(await response.read())

    async def _container(self, ref: str) -> Any:
        return await self._engine.call(
            self._engine.client.containers.get(ref), what=f"Container '{ref}'"
        )

    async def get(self, ref: str) -> dict[str, Any]:
        """One container by id (or prefix) or name."""
        return detail((await self._container(ref))._container)

    async def logs(
        self,
        ref: str,
        *,
        tail: int = 100,
        since: int | None = None,
        timestamps: bool = False,
        streams: tuple[str, ...] = ("stdout", "stderr"),
    ) -> builtins.list[str]:
        """The last `tail` lines (of the streams named), optionally since a Unix time."""
        container = await self._container(ref)
        params: dict[str, Any] = {"tail": str(tail), "timestamps": timestamps}
        if since is not None:
            params["since"] = since
        lines = await self._engine.call(
            container.log(stdout="stdout" in streams, stderr="stderr" in streams, **params),
            what=f"Logs of '{ref}'",
        )
        return [line.rstrip("\n") for line in lines]

    async def follow_bytes(
        self, ref: str, *, tail: int = 100, since: int | None = None, timestamps: bool = False
    ) -> AsyncIterator[bytes]:
        """The log's bytes as the container writes them, read in bulk; the caller's pace is
        the stream's pace."""
        container = await self._container(ref)
        tty = bool((container._container.get("Config") or {}).get("Tty"))
        params: dict[str, Any] = {
            "stdout": "1",
            "stderr": "1",
            "follow": "1",
            "tail": str(tail),
            "timestamps": "1" if timestamps else "0",
        }
        if since is not None:
            params["since"] = str(since)
        query = self._engine.client._query(
            f"containers/{container.id}/logs", method="GET", params=params, timeout=None
        )
        try:
            async with query as response:
                async for data in logstream.payloads(response.content.iter_any(), tty=tty):
                    yield data
        except DockerError:
            raise
        except Exception as err:  # aiodocker's own errors, a reset connection, ...
            raise DockerError(f"Following the logs of '{ref}' failed: {err}") from None

    async def follow(
        self, ref: str, *, tail: int = 100, since: int | None = None, timestamps: bool = False
    ) -> AsyncIterator[str]:
        """Lines as the container writes them."""
        stream = self.follow_bytes(ref, tail=tail, since=since, timestamps=timestamps)
        async for line in logstream.lines(stream):
            yield line

    async def stats(self, ref: str) -> dict[str, Any]:
        """One resource sample (Docker takes two readings about a second apart for CPU)."""
        container = await self._container(ref)
        samples = await self._engine.call(container.stats(stream=False), what=f"Stats of '{ref}'")
        sample = samples[0] if isinstance(samples, list) else samples
        return stats(sample)

    def start_watching(self) -> None:
        """Forward Docker's container events to the event bus, reconnecting as needed."""
        self._watcher = asyncio.create_task(self._watch(), name="homei-docker-events")

    async def stop_watching(self) -> None:
        """Stop forwarding events."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    async def _watch(self) -> None:
        delay = 1.0
        while True:
            try:
                await self._engine.ping()
                delay = 1.0
                for listener in self.connect_listeners:
                    listener()
                await self._forward()
            except DockerError as err:
                _LOGGER.debug("Docker events unavailable: %s", err.message)
            except (aiohttp.ClientError, OSError) as err:
                _LOGGER.warning("Docker event stream ended (%s); reconnecting", err)
            except Exception:  # a malformed event must not end the forwarding for good
                _LOGGER.exception("Docker event stream failed")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _forward(self) -> None:
        docker = self._engine.client
        params = {"filters": '{"type": ["container"]}'}
        async with docker._query("events", method="GET", params=params, timeout=None) as response:
            async for raw_line in response.content:
                event = _decode(raw_line)
                if event is None:
                    continue
                action = str(event.get("Action") or event.get("status") or "").split(":")[0]
                if action not in EVENT_ACTIONS:
                    continue
                actor = event.get("Actor") or {}
                attributes = actor.get("Attributes") or {}
                payload = {
                    "container_id": str(actor.get("ID", event.get("id", "")))[:12],
                    "name": attributes.get("name"),
                    "image": attributes.get("image"),
                    "managed": attributes.get(MANAGED_LABEL) == "true",
                    "service": attributes.get(SERVICE_LABEL),
                    "exit_code": attributes.get("exitCode"),
                }
                self._events.publish(f"container.{action}", payload)
                for listener in self.event_listeners:
                    listener(action, payload)


def _decode(raw_line: bytes) -> dict[str, Any] | None:
    try:
        value = msgspec.json.decode(raw_line)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None
