"""Images on the device, and loading one with no registry: a `docker save` tarball streamed
from the client straight into the engine."""

from __future__ import annotations

import builtins
import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from homei.core import uploads
from homei.core.clock import from_epoch
from homei.core.errors import ValidationError
from homei.core.events import EventBus
from homei.core.work import Needs, work
from homei.docker.engine import DockerEngine, DockerError

_LOGGER = logging.getLogger(__name__)


def image_summary(raw: dict[str, Any]) -> dict[str, Any]:
    """One image as `/api/v1/images` lists it."""
    return {
        "id": str(raw.get("Id", "")),
        "tags": [t for t in raw.get("RepoTags") or [] if t != "<none>:<none>"],
        "size": int(raw.get("Size") or 0),
        "created_at": from_epoch(raw["Created"]) if raw.get("Created") else None,
        "labels": raw.get("Labels") or {},
    }


class Images:
    """Lists images and loads image tarballs into the engine."""

    def __init__(self, engine: DockerEngine, events: EventBus, max_size: int) -> None:
        self._engine = engine
        self._events = events
        self.max_size = max_size

    async def list(self) -> list[dict[str, Any]]:
        """Every image, newest first."""
        images = await self._engine.call(self._engine.client.images.list(), what="Listing images")
        rows = [image_summary(i) for i in images]
        return sorted(rows, key=lambda r: r["created_at"] or "", reverse=True)

    @work(Needs(lambda images: images._engine.require()))
    async def load(
        self, chunks: AsyncIterator[bytes], declared_size: int | None
    ) -> builtins.list[str]:
        """Stream a `docker save` tarball into the engine; the image names it loaded."""
        uploads.check_declared(declared_size, self.max_size, "the image")
        # The engine stores what it loads: no file of ours, so no free-space check or hash.
        stream = uploads.Bounded(chunks, self.max_size, "the image")
        docker = self._engine.client
        query = docker._query(
            "images/load",
            method="POST",
            params={"quiet": "1"},
            data=aiter(stream),
            headers={"Content-Type": "application/x-tar"},
            timeout=None,
        )

        async def read() -> builtins.list[str]:
            loaded: builtins.list[str] = []
            async with query as response:
                async for line in response.content:
                    message = _decode(line)
                    if message.get("error") or message.get("errorDetail"):
                        detail = message.get("error") or message["errorDetail"].get("message")
                        raise ValidationError(
                            f"Docker could not load the image: {detail}", {"field": "body"}
                        )
                    text = str(message.get("stream", "")).strip()
                    for prefix in ("Loaded image: ", "Loaded image ID: "):
                        if text.startswith(prefix):
                            loaded.append(text[len(prefix) :])
            return loaded

        try:
            loaded = await self._engine.call(read(), what="Loading the image", timeout=None)
        except DockerError as err:
            if err.status == 500 and "docker" in err.details:
                raise ValidationError(
                    f"Docker could not load the image: {err.details['docker']}", {"field": "body"}
                ) from None
            raise
        if not loaded:
            raise ValidationError("The upload held no image", {"field": "body"})
        _LOGGER.info("Loaded image(s) %s (%d bytes)", ", ".join(loaded), stream.received)
        self._events.publish("image.load", {"images": loaded, "size": stream.received})
        return loaded


def _decode(line: bytes) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}
