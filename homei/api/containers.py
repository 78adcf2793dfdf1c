"""`/api/v1/containers`: every container on the device, its logs and its resource use."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from homei.api import log_follow
from homei.api.routing import endpoint
from homei.api.websockets import WebSocketHub
from homei.core.auth import Permission
from homei.docker.containers import Containers
from homei.docker.shapes import ContainerDetail, ContainerStats, ContainerSummary
from homei.services.instance import InstanceStatus

CONTAINER_REF = "{container_id:[A-Za-z0-9][A-Za-z0-9_.-]*}"
CONTAINER_PARAM = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"}


class ContainerQuery(msgspec.Struct):
    managed: bool | None = None
    status: InstanceStatus | None = None


class LogQuery(msgspec.Struct):
    tail: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 100
    since: Annotated[int, msgspec.Meta(ge=0, description="Unix time")] | None = None
    timestamps: bool = False
    follow: bool = False


class ContainerList(msgspec.Struct):
    containers: list[ContainerSummary]


class ContainerLogs(msgspec.Struct):
    container: str
    logs: list[str]


class ContainersApi:
    """Read access to every container; logs need the operator role."""

    def __init__(self, containers: Containers, hub: WebSocketHub) -> None:
        self._containers = containers
        self._hub = hub

    @endpoint(
        "GET",
        "/api/v1/containers",
        summary="List containers",
        tag="containers",
        permission=Permission.READ,
        group="containers",
        query=ContainerQuery,
        response=ContainerList,
        errors=(503,),
    )
    async def list_containers(self, request: web.Request, query: ContainerQuery) -> ContainerList:
        """Managed and unmanaged containers; filter with `managed` and `status`."""
        return ContainerList(
            await self._containers.list(managed=query.managed, status=query.status)
        )

    @endpoint(
        "GET",
        f"/api/v1/containers/{CONTAINER_REF}",
        summary="Get a container",
        tag="containers",
        permission=Permission.READ,
        group="containers",
        response=ContainerDetail,
        path_params={"container_id": CONTAINER_PARAM},
        errors=(503,),
    )
    async def get_container(self, request: web.Request) -> ContainerDetail:
        """State, configuration and published ports (seed 001's shape)."""
        return await self._containers.get(request.match_info["container_id"])

    @endpoint(
        "GET",
        f"/api/v1/containers/{CONTAINER_REF}/logs",
        summary="Container logs",
        tag="containers",
        permission=Permission.CONTROL,
        group="containers",
        query=LogQuery,
        response=ContainerLogs,
        path_params={"container_id": CONTAINER_PARAM},
        errors=(503,),
    )
    async def logs(
        self, request: web.Request, query: LogQuery
    ) -> web.StreamResponse | ContainerLogs:
        """The last `tail` lines; with `follow=true` a `text/plain` stream of lines as they
        come (or use the WebSocket at `/ws/containers/{id}/logs`)."""
        ref = request.match_info["container_id"]
        if not query.follow:
            lines = await self._containers.logs(
                ref, tail=query.tail, since=query.since, timestamps=query.timestamps
            )
            return ContainerLogs(ref, lines)
        await self._containers.get(ref)  # 404 before the stream starts
        chunks = self._containers.follow_bytes(
            ref, tail=query.tail, since=query.since, timestamps=query.timestamps
        )
        return await log_follow.as_text(request, chunks)

    @endpoint(
        "GET",
        f"/api/v1/containers/{CONTAINER_REF}/stats",
        summary="Container stats",
        tag="containers",
        permission=Permission.READ,
        group="containers",
        response=ContainerStats,
        path_params={"container_id": CONTAINER_PARAM},
        errors=(503,),
    )
    async def stats(self, request: web.Request) -> ContainerStats:
        """CPU percent as `docker stats` computes it, memory, network and block I/O."""
        return await self._containers.stats(request.match_info["container_id"])

    @endpoint(
        "GET",
        f"/ws/containers/{CONTAINER_REF}/logs",
        summary="Follow logs (WebSocket)",
        tag="containers",
        permission=Permission.CONTROL,
        query=LogQuery,
        in_schema=False,
        token_in_query=True,
        websocket=str,
    )
    async def follow_logs(self, request: web.Request, query: LogQuery) -> web.WebSocketResponse:
        """One text message per log line. The stream moves at the client's pace: while a send
        waits, Homei reads nothing more from Docker."""
        ref = request.match_info["container_id"]
        await self._containers.get(ref)
        chunks = self._containers.follow_bytes(
            ref, tail=query.tail, since=query.since, timestamps=query.timestamps
        )
        return await log_follow.over_websocket(request, self._hub, log_follow.lines(chunks))
