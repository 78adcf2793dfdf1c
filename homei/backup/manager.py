"""`BackupManager`: backups and restores as tasks, one at a time, with events."""

from __future__ import annotations

import asyncio
import builtins
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from homei.backup.catalog import BackupCatalog, StoredBackup, sanitise
from homei.backup.create import BackupPlan, estimate, write_backup
from homei.backup.homei_part import HomeiPart
from homei.backup.manifest import BackupError, BackupType
from homei.backup.progress import ByteProgress
from homei.backup.restore import RestorePlan, recover_interrupted, restore_backup
from homei.backup.sources import ServiceData
from homei.core.clock import monotonic
from homei.core.errors import Conflict, ValidationError
from homei.core.events import EventBus
from homei.core.lazy import import_module, load
from homei.core.tasks import TaskContext, TaskManager, TaskRecord
from homei.core.work import OneAtATime, Workplace, work

_LOGGER = logging.getLogger(__name__)


class WrongPassword(ValidationError):
    """400: the password does not open this backup (or one is missing)."""


class BackupBusy(Conflict):
    """409: one backup or restore runs at a time."""


def _busy(_: str | None) -> BackupBusy:
    return BackupBusy("Another backup or restore is running", {})


# One backup or restore at a time: claimed when a request is accepted, held by its task.
ONE_BACKUP_OR_RESTORE = OneAtATime("backup-or-restore", busy=_busy, lasts="task")


class BackupRequest(msgspec.Struct, frozen=True):
    name: str | None = None
    type: BackupType = BackupType.FULL
    services: list[str] | None = None
    homei: bool | None = None
    include_data: bool = True
    password: str | None = None


class BackupManager:
    def __init__(
        self,
        catalog: BackupCatalog,
        homei_part: HomeiPart,
        services: ServiceData | None,
        tasks: TaskManager,
        events: EventBus,
        *,
        workplace: Workplace | None = None,
    ) -> None:
        self.catalog = catalog
        self._homei = homei_part
        self._services = services
        self._tasks = tasks
        self._events = events
        self._work = workplace or Workplace(tasks)

    async def start(self) -> None:
        """Finish or undo a restore a crash interrupted, then sweep half-written files."""
        await recover_interrupted(self.catalog.directory, self._homei, self._services)
        swept = await self.catalog.prepare()
        if swept:
            _LOGGER.warning("Removed %d leftover(s) of interrupted backups", len(swept))

    @property
    def workplace(self) -> Workplace:
        """The state behind this manager's work policies."""
        return self._work

    @property
    def is_busy(self) -> bool:
        """True while a backup or restore runs (or has been accepted to)."""
        return self._work.is_held(ONE_BACKUP_OR_RESTORE)

    async def list(self) -> builtins.list[StoredBackup]:
        return await self.catalog.list()

    async def get(self, name: str) -> StoredBackup:
        return await self.catalog.get(name)

    async def delete(self, name: str) -> None:
        await self.catalog.delete(name)
        self._events.publish("backup:deleted", {"backup": name})

    # --- create ---

    async def _plan(self, request: BackupRequest) -> BackupPlan:
        declared = await self._services.service_names() if self._services else []
        if request.type is BackupType.FULL:
            if request.services:
                raise ValidationError(
                    "A full backup holds every service; list services with type 'partial'",
                    {"field": "services"},
                )
            chosen, with_homei = declared, True
        else:
            chosen = sorted(set(request.services or []))
            with_homei = bool(request.homei) if request.homei is not None else not chosen
            unknown = [s for s in chosen if s not in declared]
            if unknown:
                raise ValidationError(
                    f"Unknown service(s): {', '.join(unknown)}",
                    {"field": "services", "unknown": unknown},
                )
            if not chosen and not with_homei:
                raise ValidationError("A partial backup needs services or homei", {})
        if request.password is not None and len(request.password) < 8:
            raise ValidationError("A backup password has at least 8 characters", {})
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        name = f"{sanitise(request.name)}-{stamp}.tar"
        paths: list[Path] = []
        for service in chosen:
            assert self._services is not None
            paths.extend((await self._services.data_dirs(service, request.include_data)).values())
        size = await asyncio.to_thread(estimate, paths)
        return BackupPlan(
            secrets.token_hex(8),
            name,
            request.type,
            with_homei,
            chosen,
            request.include_data,
            request.password,
            size + 1024 * 1024,
        )

    async def create(self, request: BackupRequest, created_by: str | None = None) -> TaskRecord:
        """Start a backup as a task; 409 while another backup or restore runs, 507 when
        the disk has not room for it."""
        plan = await self._plan(request)
        await self.catalog.check_space(plan.estimated)
        return await self._start_create(plan, created_by)

    @work(ONE_BACKUP_OR_RESTORE)
    async def _start_create(self, plan: BackupPlan, created_by: str | None) -> TaskRecord:
        return await self._tasks.start(
            "backup",
            lambda context: self._run_create(plan, context),
            params={"backup": plan.name, "type": str(plan.type), "services": plan.services},
            created_by=created_by,
        )

    async def _run_create(self, plan: BackupPlan, context: TaskContext) -> dict[str, Any]:
        started = monotonic()
        progress = ByteProgress(context, self._events, plan.name, "backing up", plan.estimated)
        self._events.publish("backup:started", {"backup": plan.name, "taskId": context.task_id})
        try:
            async with progress.reporting():
                stored = await write_backup(
                    plan, self.catalog, self._homei, self._services, progress
                )
        except BaseException as err:
            self._events.publish("backup:failed", {"backup": plan.name, "error": str(err)})
            raise
        duration = round(monotonic() - started, 3)
        data = {"backup": stored.name, "size": stored.size, "duration": duration}
        self._events.publish("backup:completed", data)
        self._events.publish("system:backup:completed", data)
        await context.progress(100, f"Created {stored.name}")
        return {"name": stored.name, "size": stored.size, "duration": duration,
                "type": str(plan.type), "services": plan.services}  # fmt: skip

    # --- restore ---

    async def restore(
        self,
        name: str,
        *,
        password: str | None = None,
        services: builtins.list[str] | None = None,
        homei: bool | None = None,
        created_by: str | None = None,
    ) -> TaskRecord:
        """Check the backup and its password, then restore it as a task; 400 for a wrong
        password or a damaged backup, 409 while another backup or restore runs."""
        stored = await self.catalog.get(name)
        if stored.manifest is None:
            raise BackupError(f"Backup '{name}' is unreadable: {stored.problem}")
        manifest = stored.manifest
        key = None
        if manifest.encryption is not None:
            crypto = await import_module("homei.backup.crypto")  # megabytes: only when needed
            if not password:
                raise WrongPassword("This backup is encrypted: give its password",
                                    {"field": "password"})  # fmt: skip
            params = crypto.KeyParams(
                manifest.encryption.salt, manifest.encryption.n,
                manifest.encryption.r, manifest.encryption.p,
            )  # fmt: skip
            key = await asyncio.to_thread(crypto.derive_key, password, params)
            if not crypto.is_right_key(key, manifest.id, manifest.encryption.check):
                raise WrongPassword("Wrong password for this backup", {"field": "password"})
        chosen = manifest.services if services is None else sorted(set(services))
        missing = [s for s in chosen if s not in manifest.services]
        if missing:
            raise ValidationError(
                f"The backup holds no service {', '.join(missing)}",
                {"field": "services", "unknown": missing},
            )
        with_homei = manifest.homei if homei is None and services is None else bool(homei)
        if with_homei and not manifest.homei:
            raise ValidationError("The backup holds no Homei part", {"field": "homei"})
        if not chosen and not with_homei:
            raise ValidationError("Nothing to restore", {"field": "services"})
        plan = RestorePlan(secrets.token_hex(8), name, stored.path, key, with_homei, chosen,
                           manifest.include_data)  # fmt: skip
        return await self._start_restore(plan, stored.size, created_by)

    @work(ONE_BACKUP_OR_RESTORE)
    async def _start_restore(
        self, plan: RestorePlan, size: int, created_by: str | None
    ) -> TaskRecord:
        return await self._tasks.start(
            "backup_restore",
            lambda context: self._run_restore(plan, size, context),
            params={"backup": plan.name, "services": plan.services, "homei": plan.homei},
            created_by=created_by,
        )

    async def _run_restore(
        self, plan: RestorePlan, size: int, context: TaskContext
    ) -> dict[str, Any]:
        progress = ByteProgress(context, self._events, plan.name, "restoring", size)
        self._events.publish("backup:restore_started", {"backup": plan.name,
                                                        "taskId": context.task_id})  # fmt: skip
        try:
            async with progress.reporting():
                result = await restore_backup(
                    plan, self.catalog, self._homei, self._services, progress
                )
        except BaseException as err:
            self._events.publish("backup:restore_failed", {"backup": plan.name,
                                                           "error": str(err)})  # fmt: skip
            raise
        self._events.publish("backup:restored", {"backup": plan.name, **result})
        await context.progress(100, f"Restored {plan.name}")
        return result

    # --- upload ---

    async def receive(
        self, chunks: AsyncIterator[bytes], declared_size: int | None, filename: str | None
    ) -> StoredBackup:
        """Stream a backup in, check its structure and every checksum, then list it."""
        partial, _ = await self.catalog.receive(chunks, declared_size)
        try:
            manifest = await asyncio.to_thread(_verify, partial)
            name = self.catalog.path_of(filename).name if filename else manifest.name
            self.catalog.path_of(name)
            stored = await self.catalog.publish(partial, name)
        finally:
            await asyncio.to_thread(partial.unlink, missing_ok=True)
        self._events.publish("backup:uploaded", {"backup": stored.name, "size": stored.size})
        return stored


def _verify(path: Path):  # type: ignore[no-untyped-def]
    archive = load("homei.backup.archive")  # the archive stack costs megabytes
    with archive.BackupReader(path) as reader:
        for part in reader.manifest.parts:
            reader.verify(part, None)
        return reader.manifest
