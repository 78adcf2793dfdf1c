"""Writing one backup: every part streamed into a temporary file, each service quiesced
while its data is read, the manifest last, then fsync and rename into place."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

import homei
from homei.backup.catalog import BackupCatalog, StoredBackup
from homei.backup.homei_part import HomeiPart
from homei.backup.manifest import (
    HOMEI_PART,
    BackupManifest,
    BackupType,
    Encryption,
    Part,
    encode,
    member_for,
    service_part,
)
from homei.backup.progress import ByteProgress, in_thread
from homei.backup.sources import ServiceData
from homei.core.clock import now_iso
from homei.core.errors import InsufficientStorage
from homei.core.lazy import import_module

if TYPE_CHECKING:
    from homei.backup.writer import BackupWriter


class BackupPlan(msgspec.Struct, frozen=True):
    """What one backup will hold, decided before it starts."""

    id: str
    name: str
    type: BackupType
    homei: bool
    services: list[str]
    include_data: bool
    password: str | None
    estimated: int  # bytes of data to read, for progress and the free-space check


async def write_backup(
    plan: BackupPlan,
    catalog: BackupCatalog,
    homei_part: HomeiPart,
    services: ServiceData | None,
    progress: ByteProgress,
) -> StoredBackup:
    """Create the backup of `plan`; on any failure nothing is left behind."""
    # Imported here: the archive stack (zstandard, cryptography) costs an idle daemon megabytes.
    crypto = await import_module("homei.backup.crypto")
    writers = await import_module("homei.backup.writer")

    key, encryption = None, None
    if plan.password is not None:
        params = crypto.KeyParams.fresh()
        key = await asyncio.to_thread(crypto.derive_key, plan.password, params)
        encryption = Encryption(
            crypto.CIPHER,
            crypto.KDF,
            params.salt,
            params.n,
            params.r,
            params.p,
            crypto.key_check(key, plan.id),
            crypto.CHUNK,
        )
    temporary = catalog.temporary(".partial-")
    work = catalog.temporary(".work-")
    await asyncio.to_thread(work.mkdir, mode=0o700)
    handle = await asyncio.to_thread(_create, temporary)
    try:
        writer = writers.BackupWriter(handle, key, progress.add)
        parts: list[Part] = []
        if plan.homei:
            files = await homei_part.snapshot(work, encrypted=key is not None)
            member = member_for(HOMEI_PART, key is not None)
            written = await in_thread(progress, writer.add_part, member, files)
            parts.append(_part(HOMEI_PART, member, written, sorted(files)))
        for name in plan.services:
            assert services is not None
            parts.append(await _service(name, plan, services, writer, key, progress))
        manifest = BackupManifest(
            format=1,
            id=plan.id,
            name=plan.name,
            homei_version=homei.__version__,
            created=now_iso(),
            type=plan.type,
            include_data=plan.include_data,
            homei=plan.homei,
            services=plan.services,
            parts=parts,
            encryption=encryption,
        )
        await in_thread(progress, _finish, writer, handle, encode(manifest))
        return await catalog.publish(temporary, plan.name)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise InsufficientStorage(
                "The disk filled up while the backup was written; it was discarded"
            ) from None
        raise
    finally:
        await asyncio.to_thread(_cleanup, handle, temporary, work)


async def _service(
    name: str,
    plan: BackupPlan,
    services: ServiceData,
    writer: BackupWriter,
    key: bytes | None,
    progress: ByteProgress,
) -> Part:
    spec = await services.export_spec(name)
    dirs = await services.data_dirs(name, plan.include_data)
    mode = await services.backup_mode(name)
    files: dict[str, Path | bytes] = {"spec.json": spec, **dirs}
    part_name = service_part(name)
    member = member_for(part_name, key is not None)
    await progress.report(f"{mode} {name}")
    async with services.quiesced(name, mode):
        written = await in_thread(progress, writer.add_part, member, files)
    present = [k for k, path in dirs.items() if await asyncio.to_thread(path.is_dir)]
    return _part(part_name, member, written, sorted(["spec.json", *present]))


def _part(name: str, member: str, written, tops: list[str]) -> Part:  # type: ignore[no-untyped-def]
    return Part(name, member, written.size, written.raw_size, written.sha256, written.files, tops)


def _create(path: Path):  # type: ignore[no-untyped-def]
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    return os.fdopen(fd, "w+b", buffering=1024 * 1024)


def _finish(writer: BackupWriter, handle, manifest: bytes) -> None:  # type: ignore[no-untyped-def]
    writer.finish(manifest)
    os.fsync(handle.fileno())


def _cleanup(handle, temporary: Path, work: Path) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(OSError):  # a full disk can fail the last flush too
        handle.close()
    temporary.unlink(missing_ok=True)
    shutil.rmtree(work, ignore_errors=True)


def estimate(paths: list[Path]) -> int:
    """Bytes of the regular files below `paths` (blocking)."""
    total = 0
    for root in paths:
        if root.is_file():
            total += root.stat().st_size
            continue
        for dirpath, _, filenames in os.walk(root):
            for filename in filenames:
                try:
                    info = os.lstat(os.path.join(dirpath, filename))
                except FileNotFoundError:
                    continue
                total += info.st_size if not os.path.islink(os.path.join(dirpath, filename)) else 0
    return total
