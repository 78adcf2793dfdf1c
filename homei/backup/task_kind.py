"""The `backup` kind of `POST /api/v1/tasks`: its `config` is what `POST /api/v1/backups`
accepts (plus the names seed 000 uses), checked, and carried out by `BackupManager.create`."""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

from homei.backup.manager import BackupManager, BackupRequest
from homei.backup.manifest import BackupType
from homei.core.auth import Permission
from homei.core.errors import ValidationError
from homei.core.task_records import TaskKind, TaskRecord, TaskRequest

_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `([^`]*)`$")
ALL_SERVICES = "all"  # seed 000's `"service": "all"`: every service, a full backup


class BackupTaskConfig(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    type: BackupType | None = None
    services: list[Annotated[str, msgspec.Meta(min_length=1, max_length=128)]] | None = None
    homei: bool | None = None
    include_data: bool | None = None
    includeMedia: bool | None = None  # seed 000's name for include_data
    password: Annotated[str, msgspec.Meta(min_length=8, max_length=1024)] | None = None
    compression: bool = True  # seed 000; backups are always compressed


def backup_request(task: TaskRequest) -> BackupRequest:
    """The backup a task's `config` and `service` ask for; 400 naming the field otherwise."""
    try:
        config = msgspec.convert(task.config, BackupTaskConfig)
    except msgspec.ValidationError as err:
        message, _, where = str(err).partition(" - at `$")
        unknown = _UNKNOWN_FIELD.match(message)
        path = "body.config" + (f".{unknown[1]}" if unknown else where.rstrip("`"))
        raise ValidationError(
            f"Invalid backup config: {message}", {"fields": [{"path": path, "message": message}]}
        ) from None
    if not config.compression:
        raise ValidationError(
            "Backups are always compressed",
            {"fields": [{"path": "body.config.compression", "message": "must be true"}]},
        )
    services = config.services
    if task.service not in (None, ALL_SERVICES):
        if services is not None and services != [task.service]:
            raise ValidationError(
                "Give the services either as `service` or as `config.services`",
                {"field": "services"},
            )
        services = [task.service]
    include_data = config.include_data
    if include_data is None:
        include_data = config.includeMedia if config.includeMedia is not None else True
    default_type = BackupType.PARTIAL if services or config.homei is not None else BackupType.FULL
    return BackupRequest(
        name=config.name,
        type=config.type or default_type,
        services=services,
        homei=config.homei,
        include_data=include_data,
        password=config.password,
    )


def backup_task_kind(backups: BackupManager) -> TaskKind:
    """`POST /api/v1/tasks {"type": "backup", "config": {...}}`, the same as `POST /backups`."""

    async def start(task: TaskRequest) -> TaskRecord:
        return await backups.create(backup_request(task), created_by=task.created_by)

    return TaskKind(
        "backup",
        None,
        Permission.CONTROL,
        "Create a backup; `config` takes the fields of POST /api/v1/backups",
        starter=start,
    )
