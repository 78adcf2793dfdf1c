"""`/api/v1/tasks`: long work tracked with progress, logs and a result."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from homei.api.middleware import identity_of
from homei.api.routing import endpoint
from homei.core.auth import Permission
from homei.core.errors import Forbidden
from homei.core.tasks import TaskManager, TaskRecord, TaskStatus

TaskStatusName = Literal["pending", "running", "completed", "failed", "cancelled"]
TASK_ID_PARAM = {"type": "string", "pattern": "^task-[0-9a-f]{16}$"}


class TaskQuery(msgspec.Struct):
    status: TaskStatusName | None = None
    service: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    type: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    since: (
        Annotated[
            datetime,
            msgspec.Meta(
                tz=True,
                description="ISO 8601 date-time with a zone; tasks created at or after it",
            ),
        ]
        | None
    ) = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 50
    offset: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0


class TaskCreate(msgspec.Struct):
    type: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    service: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    config: dict[str, Any] = {}


class TaskLogOut(msgspec.Struct):
    timestamp: str
    level: str
    message: str


class TaskOut(msgspec.Struct):
    id: str
    type: str
    service: str | None
    status: str
    progress: int
    message: str
    config: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    createdBy: str | None
    created: str
    started: str | None
    completed: str | None
    duration: float | None
    logs: list[TaskLogOut]


class TaskList(msgspec.Struct):
    tasks: list[TaskOut]
    total: int
    limit: int
    offset: int


class TaskKindOut(msgspec.Struct):
    type: str
    permission: str
    description: str


class TaskKindList(msgspec.Struct):
    types: list[TaskKindOut]


def task_out(record: TaskRecord) -> TaskOut:
    """The wire shape of a task (seed 000)."""
    return TaskOut(
        record.id,
        record.type,
        record.service,
        str(record.status),
        record.progress,
        record.message,
        record.params,
        record.result,
        record.error,
        record.created_by,
        record.created,
        record.started,
        record.completed,
        record.duration,
        [TaskLogOut(log.timestamp, log.level, log.message) for log in record.logs],
    )


class TasksApi:
    """List, inspect, create and cancel tasks."""

    def __init__(self, tasks: TaskManager) -> None:
        self._tasks = tasks

    def document_kinds(self, schemas: dict[str, Any]) -> None:
        """Publish the registered task kinds as the values `TaskCreate.type` accepts."""
        schemas["TaskCreate"]["properties"]["type"]["enum"] = sorted(self._tasks.kinds)

    @endpoint(
        "GET",
        "/api/v1/tasks",
        summary="List tasks",
        tag="tasks",
        permission=Permission.READ,
        query=TaskQuery,
        response=TaskList,
    )
    async def list_tasks(self, request: web.Request, query: TaskQuery) -> TaskList:
        """Newest first; filter by status, service, type and creation time."""
        records, total = self._tasks.list(
            status=TaskStatus(query.status) if query.status else None,
            service=query.service,
            task_type=query.type,
            since=query.since,
            limit=query.limit,
            offset=query.offset,
        )
        return TaskList([task_out(r) for r in records], total, query.limit, query.offset)

    @endpoint(
        "GET",
        "/api/v1/tasks/types",
        summary="Task types clients may create",
        tag="tasks",
        permission=Permission.READ,
        response=TaskKindList,
    )
    async def list_types(self, request: web.Request) -> TaskKindList:
        """What `POST /api/v1/tasks` accepts as `type`, and the permission each needs."""
        return TaskKindList(
            [
                TaskKindOut(k.name, str(k.permission), k.description)
                for k in self._tasks.kinds.values()
            ]
        )

    @endpoint(
        "POST",
        "/api/v1/tasks",
        summary="Create a task",
        tag="tasks",
        permission=Permission.CONTROL,
        body=TaskCreate,
        response=TaskOut,
        status=202,
        errors=(409, 507),
    )
    async def create_task(self, request: web.Request, body: TaskCreate) -> TaskOut:
        """Start a task of a registered type; answers at once with its id (202). A `backup`
        task takes the body of `POST /api/v1/backups` as its `config` (409 while another
        backup or restore runs, 507 without room for it)."""
        identity = identity_of(request)
        kind = self._tasks.kind(body.type)
        if not identity.can(Permission(kind.permission)):
            raise Forbidden(
                f"Task type '{kind.name}' needs the '{kind.permission}' permission",
                {"required": kind.permission},
            )
        record = await self._tasks.create(
            kind.name, service=body.service, params=body.config, created_by=identity.username
        )
        return task_out(record)

    @endpoint(
        "GET",
        "/api/v1/tasks/{task_id:task-[0-9a-f]+}",
        summary="Get a task",
        tag="tasks",
        permission=Permission.READ,
        response=TaskOut,
        path_params={"task_id": TASK_ID_PARAM},
    )
    async def get_task(self, request: web.Request) -> TaskOut:
        """Status, progress, logs, result and timings."""
        return task_out(await self._tasks.get(request.match_info["task_id"]))

    @endpoint(
        "DELETE",
        "/api/v1/tasks/{task_id:task-[0-9a-f]+}",
        summary="Cancel and delete a task",
        tag="tasks",
        permission=Permission.CONTROL,
        response=TaskOut,
        path_params={"task_id": TASK_ID_PARAM},
    )
    async def delete_task(self, request: web.Request) -> TaskOut:
        """Cancel a pending or running task, then delete it with its log: it answers 404
        from then on. Returns the task as it ended."""
        return task_out(await self._tasks.delete(request.match_info["task_id"]))
