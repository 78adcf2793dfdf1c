"""`/api/v1/containers`: every container on the device, its logs and its resource use."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec
from aiohttp import web

from homei.api import log_follow
from homei.api.routing import endpoint
from homei.api.websockets import WebSocketHub
from homei.core.auth import Permission
from homei.docker.containers import Containers

T = TypeVar("T")
ContainerState = Literal["created", "restarting", "running", "removing", "paused", "exited", "dead"]
CONTAINER_REF = "{container_id:[A-Za-z0-9][A-Za-z0-9_.-]*}"
CONTAINER_PARAM = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"}


class ContainerQuery(msgspec.Struct):
    managed: bool | None = None
    status: ContainerState | None = None


class LogQuery(msgspec.Struct):
    tail: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 100
    since: Annotated[int, msgspec.Meta(ge=0, description="Unix time")] | None = None
    timestamps: bool = False
    follow: bool = False


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


class ContainerList(msgspec.Struct):
    containers: list[ContainerSummary]


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


class ContainerLogs(msgspec.Struct):
    container: str
    logs: list[str]


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


def _as(model: type[T], value: Any) -> T:
    return msgspec.convert(value, model)


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
    async def list_containers(self, request: web.Request, query: ContainerQuery) -> dict[str, Any]:
        """Managed and unmanaged containers; filter with `managed` and `status`."""
        # Already in the documented shape: encoded as it is, not converted field by field.
        return {
            "containers": await self._containers.list(managed=query.managed, status=query.status)
        }

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
        return _as(ContainerDetail, await self._containers.get(request.match_info["container_id"]))

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
        return _as(ContainerStats, await self._containers.stats(request.match_info["container_id"]))

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
        lines = self._containers.follow(
            ref, tail=query.tail, since=query.since, timestamps=query.timestamps
        )
        return await log_follow.over_websocket(request, self._hub, lines)
