"""Docker's container events: forwarded to the event bus as `container.<action>`, and to
listeners (the reconciler) with Homei's labels read out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import msgspec

from homei.core.events import EventBus
from homei.docker.engine import DockerEngine, DockerError
from homei.services.instance import MANAGED_LABEL, SERVICE_LABEL

_LOGGER = logging.getLogger(__name__)

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


class ContainerEvents:
    """Docker's container events, forwarded to the event bus and to listeners."""

    def __init__(self, engine: DockerEngine, events: EventBus) -> None:
        self._engine = engine
        self._events = events
        self._watcher: asyncio.Task[None] | None = None
        self.event_listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self.connect_listeners: list[Callable[[], None]] = []
        self.is_attached = False  # the event stream is open: no event is missed from now on

    def start(self) -> None:
        """Forward Docker's container events to the event bus, reconnecting as needed."""
        self._watcher = asyncio.create_task(self._watch(), name="homei-docker-events")

    async def stop(self) -> None:
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
            self.is_attached = True
            try:
                await self._relay(response.content)
            finally:
                self.is_attached = False

    async def _relay(self, content: aiohttp.StreamReader) -> None:
        async for raw_line in content:
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
