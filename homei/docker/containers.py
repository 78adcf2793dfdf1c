"""Every container on the engine, managed by Homei or not: listed, inspected, their logs and
their resource use (read-only here)."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec

from homei.core.events import EventBus
from homei.docker import described, logstream, shapes
from homei.docker.engine import DockerEngine, DockerError
from homei.docker.events import ContainerEvents
from homei.services.instance import MANAGED_LABEL, Usage


class Containers:
    """Reads of any container, and the engine's container events forwarded to the bus."""

    def __init__(self, engine: DockerEngine, events: EventBus) -> None:
        self._engine = engine
        self._watcher = ContainerEvents(engine, events)
        # Told of every container event (action, payload) and of each (re)connection.
        self.event_listeners: builtins.list[Callable[[str, dict[str, Any]], None]] = (
            self._watcher.event_listeners
        )
        self.connect_listeners: builtins.list[Callable[[], None]] = self._watcher.connect_listeners

    async def list(
        self, *, managed: bool | None = None, status: str | None = None
    ) -> builtins.list[shapes.ContainerSummary]:
        """Containers, filtered by Homei's label and by state."""
        filters: dict[str, builtins.list[str]] = {}
        if managed is True:
            filters["label"] = [f"{MANAGED_LABEL}=true"]
        if status is not None:
            filters["status"] = [status]
        params = {"all": "1"}
        if filters:
            params["filters"] = msgspec.json.encode(filters).decode()
        found = await self._engine.request(
            "containers/json",
            what="Listing containers",
            params=params,
            decode=builtins.list[described.Listed],
        )
        rows = [shapes.summary(raw) for raw in found or []]
        if managed is False:
            rows = [r for r in rows if not r.managed]
        return rows

    async def _inspect(self, ref: str) -> described.Inspected:
        found = await self._engine.request(
            f"containers/{ref}/json", what=f"Container '{ref}'", decode=described.Inspected
        )
        assert found is not None
        return found

    async def get(self, ref: str) -> shapes.ContainerDetail:
        """One container by id (or prefix) or name."""
        return shapes.detail(await self._inspect(ref))

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
        container = self._engine.client.containers.container(ref)
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
        container = await self._inspect(ref)
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
                chunks = response.content.iter_any()
                async for data in logstream.payloads(chunks, tty=container.config.tty):
                    yield data
        except DockerError:
            raise
        except Exception as err:  # aiodocker's own errors, a reset connection, ...
            raise DockerError(f"Following the logs of '{ref}' failed: {err}") from None

    async def usage(self, ref: str, *, instant: bool = True) -> Usage:
        """One reading at once (`instant`), or Docker's two about a second apart (for CPU)."""
        params = {"stream": "0", "one-shot": "1"} if instant else {"stream": "0"}
        try:
            raw = await self._engine.request(
                f"containers/{ref}/stats",
                params=params,
                what=f"Stats of '{ref}'",
                decode=described.Stats,
            )
        except msgspec.DecodeError:
            # The engine cuts its answer off when the container stops while it is read:
            # a container that is going away uses nothing.
            raw = None
        return described.usage(raw or described.Stats())

    async def stats(self, ref: str) -> shapes.ContainerStats:
        """One resource sample in 001's shape, CPU measured as `docker stats` does."""
        return shapes.stats(await self.usage(ref, instant=False))

    @property
    def is_watching(self) -> bool:
        """Docker's event stream is open: every container event from now on is forwarded."""
        return self._watcher.is_attached

    def start_watching(self) -> None:
        """Forward Docker's container events to the event bus, reconnecting as needed."""
        self._watcher.start()

    async def stop_watching(self) -> None:
        """Stop forwarding events."""
        await self._watcher.stop()
