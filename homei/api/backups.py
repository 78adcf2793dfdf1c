"""`/api/v1/backups`: list, create, restore, delete, download and upload backups."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from homei.api.download import send_file
from homei.api.middleware import identity_of
from homei.api.routing import endpoint
from homei.backup.catalog import NAME, BackupNotFound, StoredBackup
from homei.backup.manager import BackupManager, BackupRequest
from homei.backup.manifest import BackupType
from homei.backup.schedule import Scheduler
from homei.core.auth import Permission

NAME_PARAM = {"type": "string", "pattern": NAME.pattern}
# Only names ending in .tar reach these routes, so `upload` and `schedules` stay their own.
BACKUP = "{backup_name:[A-Za-z0-9][A-Za-z0-9_.-]*[.]tar}"
ServiceName = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=1024)]


class BackupOut(msgspec.Struct):
    name: str
    created_at: str
    size: int
    type: str | None
    services: list[str]
    homei: bool
    include_data: bool
    encrypted: bool
    homei_version: str | None
    problem: str | None


class BackupList(msgspec.Struct):
    backups: list[BackupOut]


class CreateBackup(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    type: BackupType = BackupType.FULL
    services: list[ServiceName] | None = None
    homei: bool | None = None
    include_data: bool = True
    password: Password | None = None


class BackupStarted(msgspec.Struct):
    name: str
    status: str
    message: str
    taskId: str


class RestoreBackup(msgspec.Struct, forbid_unknown_fields=True):
    password: Annotated[str, msgspec.Meta(max_length=1024)] | None = None
    services: list[ServiceName] | None = None
    homei: bool | None = None


class RestoreStarted(msgspec.Struct):
    status: str
    message: str
    taskId: str


class Deleted(msgspec.Struct):
    status: str
    message: str


class UploadQuery(msgspec.Struct):
    filename: Annotated[str, msgspec.Meta(pattern=NAME.pattern)] | None = None


class ScheduleOut(msgspec.Struct):
    name: str
    type: str
    services: list[str]
    interval: float | None
    cron: str
    keep_last: int
    keep_daily: int
    keep_weekly: int
    encrypted: bool
    next_run: str | None
    last_run: str | None
    last_result: str | None


class ScheduleList(msgspec.Struct):
    schedules: list[ScheduleOut]


def _backup(stored: StoredBackup) -> BackupOut:
    m = stored.manifest
    return BackupOut(
        stored.name,
        m.created if m else stored.modified,
        stored.size,
        str(m.type) if m else None,
        list(m.services) if m else [],
        m.homei if m else False,
        m.include_data if m else False,
        m.is_encrypted if m else False,
        m.homei_version if m else None,
        stored.problem,
    )


class BackupsApi:
    """Backups of the device, and restores from them."""

    def __init__(self, backups: BackupManager, scheduler: Scheduler) -> None:
        self._backups = backups
        self._scheduler = scheduler

    @endpoint("GET", "/api/v1/backups", summary="List backups", tag="backups",
              permission=Permission.READ, group="backups", response=BackupList)  # fmt: skip
    async def list(self, request: web.Request) -> BackupList:
        """Every backup, newest first; one that cannot be read says why in `problem`."""
        return BackupList([_backup(b) for b in await self._backups.list()])

    @endpoint("POST", "/api/v1/backups", summary="Create a backup", tag="backups",
              permission=Permission.CONTROL, group="backups", body=CreateBackup,
              body_optional=True, response=BackupStarted, status=202,
              errors=(409, 507))  # fmt: skip
    async def create(self, request: web.Request, body: CreateBackup) -> BackupStarted:
        """Starts a task writing `<name>-YYYYMMDD-HHMMSS.tar`: `full` (Homei and every
        service) or `partial` (`services` and/or `homei`), with volumes when `include_data`,
        encrypted with `password`. 409 while a backup or restore runs, 507 without room."""
        record = await self._backups.create(
            BackupRequest(body.name, body.type, body.services, body.homei, body.include_data,
                          body.password),
            created_by=identity_of(request).username,
        )  # fmt: skip
        name = record.params["backup"]
        return BackupStarted(name, "creating", "Backup started", record.id)

    @endpoint("POST", "/api/v1/backups/upload", summary="Upload a backup", tag="backups",
              permission=Permission.CONTROL, group="backups", query=UploadQuery,
              upload="application/octet-stream", response=BackupOut, status=201,
              errors=(409, 507))  # fmt: skip
    async def upload(self, request: web.Request, query: UploadQuery) -> BackupOut:
        """Streams a backup to disk (never held in memory), checks its manifest and every
        part's checksum, then lists it under `filename` or its own name."""
        stored = await self._backups.receive(
            request.content.iter_chunked(1024 * 1024), request.content_length, query.filename
        )
        return _backup(stored)

    @endpoint("GET", "/api/v1/backups/schedules", summary="Backup schedules", tag="backups",
              permission=Permission.READ, group="backups", response=ScheduleList)  # fmt: skip
    async def schedules(self, request: web.Request) -> ScheduleList:
        """The schedules and retention of the `[[backup.schedules]]` settings, with their
        next and last runs."""
        return ScheduleList([ScheduleOut(**s) for s in self._scheduler.describe()])

    @endpoint("GET", f"/api/v1/backups/{BACKUP}", summary="Get a backup", tag="backups",
              permission=Permission.READ, group="backups", response=BackupOut,
              path_params={"backup_name": NAME_PARAM})  # fmt: skip
    async def get(self, request: web.Request) -> BackupOut:
        """One backup, from its manifest."""
        return _backup(await self._backups.get(request.match_info["backup_name"]))

    @endpoint("DELETE", f"/api/v1/backups/{BACKUP}", summary="Delete a backup",
              tag="backups", permission=Permission.CONTROL, group="backups", response=Deleted,
              path_params={"backup_name": NAME_PARAM})  # fmt: skip
    async def delete(self, request: web.Request) -> Deleted:
        """Removes one backup file."""
        await self._backups.delete(request.match_info["backup_name"])
        return Deleted("deleted", "Backup deleted successfully")

    @endpoint("POST", f"/api/v1/backups/{BACKUP}/restore", summary="Restore a backup",
              tag="backups", permission=Permission.CONTROL, group="backups",
              body=RestoreBackup, body_optional=True, response=RestoreStarted, status=202,
              path_params={"backup_name": NAME_PARAM}, errors=(409, 507))  # fmt: skip
    async def restore(self, request: web.Request, body: RestoreBackup) -> RestoreStarted:
        """Checks the backup and its `password` (400 when wrong), then restores as a task:
        every part unpacked and checked first, then swapped in all-or-nothing. Restores
        everything it holds, or only `services` (and `homei` if true)."""
        record = await self._backups.restore(
            request.match_info["backup_name"],
            password=body.password,
            services=body.services,
            homei=body.homei,
            created_by=identity_of(request).username,
        )
        return RestoreStarted("restoring", "Restore started", record.id)

    @endpoint("GET", f"/api/v1/backups/{BACKUP}/download", summary="Download a backup",
              tag="backups", permission=Permission.CONTROL, group="backups",
              content_type="application/x-tar",
              path_params={"backup_name": NAME_PARAM})  # fmt: skip
    async def download(self, request: web.Request) -> web.StreamResponse:
        """The backup file, streamed from disk."""
        stored = await self._backups.get(request.match_info["backup_name"])
        return await send_file(
            request,
            stored.path,
            content_type="application/x-tar",
            filename=stored.name,
            missing=lambda: BackupNotFound(
                f"Backup '{stored.name}' not found", {"backup_name": stored.name}
            ),
        )
