"""Restoring a backup all-or-nothing: every chosen part is unpacked into staging and checked
while the services still run; only then are they stopped, their folders swapped in, their
specs and Homei's database replaced, and they are started again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from homei.backup import swap as swap_journal
from homei.backup.catalog import BackupCatalog
from homei.backup.homei_part import TOPS as HOMEI_TOPS
from homei.backup.homei_part import HomeiPart
from homei.backup.manifest import HOMEI_PART, BackupError, Part, service_part
from homei.backup.progress import ByteProgress, in_thread
from homei.backup.sources import ServiceData
from homei.backup.swap import FolderSwap, Move
from homei.core.errors import NotFound
from homei.core.lazy import import_module

if TYPE_CHECKING:
    from homei.backup.archive import BackupReader

_LOGGER = logging.getLogger(__name__)
SPEC = "spec.json"


class RestorePlan(msgspec.Struct, frozen=True):
    id: str
    name: str
    path: Path
    key: bytes | None
    homei: bool
    services: list[str]
    include_data: bool


async def restore_backup(
    plan: RestorePlan,
    catalog: BackupCatalog,
    homei_part: HomeiPart,
    services: ServiceData | None,
    progress: ByteProgress,
) -> dict[str, object]:
    """Restore `plan`; any failure leaves every folder, spec and the database as they were."""
    staging = catalog.temporary(".restore-")
    await asyncio.to_thread(staging.mkdir, mode=0o700)
    # Imported here: the archive stack (zstandard, cryptography) costs an idle daemon megabytes.
    archive = await import_module("homei.backup.archive")
    reader = await asyncio.to_thread(archive.BackupReader, plan.path)
    try:
        parts = _chosen(reader, plan)
        await catalog.check_space(sum(p.raw_size for p in parts))
        for part in parts:
            tops = HOMEI_TOPS if part.name == HOMEI_PART else frozenset(part.dirs)
            root = staging / _folder(part.name)
            await asyncio.to_thread(root.mkdir)
            await in_thread(progress, reader.extract, part, plan.key, root, tops, progress.add)
        # What was unpacked reaches the disk before it replaces anything.
        await asyncio.to_thread(os.sync)
        await progress.report("checked; swapping in")
        if plan.homei:
            await homei_part.prepare(staging / HOMEI_PART, plan.id, plan.name)
        if plan.services and services is None:
            raise BackupError("Services cannot be restored: this Homei runs none")
        stopping = services.stopped(plan.services) if services else contextlib.nullcontext()
        async with stopping:
            settings_changed = await _swap_in(plan, staging, catalog, homei_part, services)
        return {
            "backup": plan.name,
            "homei": plan.homei,
            "services": plan.services,
            "settings_changed": settings_changed,
        }
    finally:
        await asyncio.to_thread(reader.close)
        await asyncio.to_thread(shutil.rmtree, staging, True)


def _chosen(reader: BackupReader, plan: RestorePlan) -> list[Part]:
    names = ([HOMEI_PART] if plan.homei else []) + [service_part(s) for s in plan.services]
    parts = []
    for name in names:
        part = reader.manifest.part(name)
        if part is None:
            raise BackupError(f"The backup holds no part '{name}'")
        parts.append(part)
    return parts


def _folder(part: str) -> str:
    return part.replace(":", "-")


async def _swap_in(
    plan: RestorePlan,
    staging: Path,
    catalog: BackupCatalog,
    homei_part: HomeiPart,
    services: ServiceData | None,
) -> bool:
    old_specs: dict[str, bytes | None] = {}
    for name in plan.services:
        assert services is not None
        try:
            old_specs[name] = await services.export_spec(name)
        except NotFound:
            old_specs[name] = None
    # Journalled before the first spec changes: a crash from here on is finished or undone
    # at the next start, specs and folders together.
    swap = FolderSwap(catalog.directory, plan.id, [], old_specs)
    await asyncio.to_thread(swap.begin)
    try:
        for name in plan.services:
            assert services is not None
            root = staging / _folder(service_part(name))
            spec = await asyncio.to_thread((root / SPEC).read_bytes)
            await services.import_spec(name, spec)
            targets = await services.data_dirs(name, plan.include_data)
            for top in sorted(await asyncio.to_thread(_tops, root)):
                if top in targets:
                    swap.moves.append(Move(targets[top], root / top))
                else:
                    _LOGGER.warning("Restore of %s: %s is no longer declared; skipped", name, top)
        await asyncio.to_thread(swap.swap)
        changed = False
        if plan.homei:
            # Last: once the database holds the restore's id, the restore stands (swap.py).
            changed = await homei_part.swap_in(staging / HOMEI_PART)
    except BaseException:
        await asyncio.to_thread(swap.undo)
        await _put_back_specs(services, old_specs)
        await asyncio.to_thread(swap.forget)
        raise
    await asyncio.to_thread(swap.commit)
    return changed


async def recover_interrupted(
    journal_dir: Path, homei_part: HomeiPart, services: ServiceData | None
) -> None:
    """At start: finish a restore a crash interrupted once it stood, else undo its folder
    moves and put its services' old specs back."""
    interrupted = await asyncio.to_thread(swap_journal.pending, journal_dir)
    if interrupted is None:
        return
    committed = interrupted.phase == "committed" or await homei_part.was_restored(interrupted.id)
    await asyncio.to_thread(swap_journal.recover, journal_dir, interrupted, committed)
    if not committed:
        await _put_back_specs(services, interrupted.specs)
        await asyncio.to_thread(swap_journal.forget, journal_dir)
    _LOGGER.warning(
        "Restore %s was interrupted; %s", interrupted.id, "finished" if committed else "undone"
    )


def _tops(root: Path) -> list[str]:
    found: list[str] = []
    for kind in ("config", "state", "volumes", "binds"):
        folder = root / kind
        if kind in ("config", "state") and folder.is_dir():  # one folder each
            found.append(kind)
        elif folder.is_dir():
            found.extend(f"{kind}/{child.name}" for child in folder.iterdir() if child.is_dir())
    return found


async def _put_back_specs(services: ServiceData | None, old: Mapping[str, bytes | None]) -> None:
    if services is None:
        return
    for name, spec in old.items():
        if spec is None:
            continue  # a service the restore declared stays declared, with its old folders
        try:
            await services.import_spec(name, spec)
        except Exception:
            _LOGGER.exception("Could not put back the spec of %s after a failed restore", name)
