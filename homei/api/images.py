"""`/api/v1/images`: images on the device, and loading one without a registry."""

from __future__ import annotations

import msgspec
from aiohttp import web

from homei.api.routing import endpoint
from homei.core.auth import Permission
from homei.docker.images import Images


class ImageOut(msgspec.Struct):
    id: str
    tags: list[str]
    size: int
    created_at: str | None
    labels: dict[str, str]


class ImageList(msgspec.Struct):
    images: list[ImageOut]


class ImagesLoaded(msgspec.Struct):
    status: str
    images: list[str]


class ImagesApi:
    """What the device can run, and how to bring it more while offline."""

    def __init__(self, images: Images) -> None:
        self._images = images

    @endpoint(
        "GET",
        "/api/v1/images",
        summary="List images",
        tag="containers",
        permission=Permission.READ,
        group="containers",
        response=ImageList,
        errors=(503,),
    )
    async def list_images(self, request: web.Request) -> ImageList:
        """Every image in the engine, newest first."""
        return ImageList([msgspec.convert(i, ImageOut) for i in await self._images.list()])

    @endpoint(
        "POST",
        "/api/v1/images/load",
        summary="Load an image tarball",
        tag="containers",
        permission=Permission.ADMIN,
        group="containers",
        upload="application/octet-stream",
        response=ImagesLoaded,
        status=201,
        errors=(503,),
    )
    async def load(self, request: web.Request) -> ImagesLoaded:
        """Streams a `docker save` tarball into Docker (never held in memory), so a service
        can be installed with no registry at all."""
        loaded = await self._images.load(
            request.content.iter_chunked(1024 * 1024), request.content_length
        )
        return ImagesLoaded("loaded", loaded)
