"""Known data for backup tests: folders of files, links and modes, compared byte for byte;
and backups crafted by hand (hostile ones too)."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import zstandard

from homei.backup import manifest as manifest_module
from homei.backup.manifest import BackupManifest, BackupType, Part
from homei.backup.writer import BackupWriter


def fill_tree(root: Path, seed: str, size: int = 300_000) -> None:
    """A folder of text, random bytes, an empty file, a subfolder, a relative symlink,
    a hard link and unusual modes; `seed` makes its content distinct."""
    (root / "sub" / "deeper").mkdir(parents=True, exist_ok=True)
    (root / "notes.txt").write_text(f"{seed}\n" * (size // (len(seed) + 1)))
    (root / "sub" / "random.bin").write_bytes(hashlib.shake_256(seed.encode()).digest(size))
    (root / "sub" / "deeper" / "empty").write_bytes(b"")
    os.symlink("../notes.txt", root / "sub" / "link-to-notes")
    os.link(root / "notes.txt", root / "hardlink.txt")
    (root / "script.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "script.sh").chmod(0o750)


def snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry below `root`: kind, mode bits and content (or link target)."""
    found: dict[str, tuple[str, int, str]] = {}
    if not root.exists():
        return found
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        relative = str(path.relative_to(root))
        if stat.S_ISLNK(info.st_mode):
            found[relative] = ("link", 0, os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            found[relative] = ("dir", stat.S_IMODE(info.st_mode), "")
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[relative] = ("file", stat.S_IMODE(info.st_mode), digest)
    return found


def inner_tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    """An inner tar exactly as given, compressed as a part is."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in entries:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def crafted_backup(path: Path, service: str, tar_bytes: bytes, raw_size: int | None = None) -> None:
    """A well-formed backup of one service whose part is `tar_bytes`, with a right checksum:
    only what the part holds can make a restore refuse it."""
    stored = zstandard.ZstdCompressor().compress(tar_bytes)
    part_name = manifest_module.service_part(service)
    member = manifest_module.member_for(part_name, False)
    manifest = BackupManifest(
        format=1,
        id="crafted",
        name=path.name,
        homei_version="0.1.0",
        created="2024-01-01T00:00:00Z",
        type=BackupType.PARTIAL,
        include_data=True,
        homei=False,
        services=[service],
        parts=[
            Part(
                part_name,
                member,
                len(stored),
                raw_size if raw_size is not None else len(tar_bytes),
                hashlib.sha256(stored).hexdigest(),
                1,
                ["config", "volumes/data"],
            )
        ],
    )
    with path.open("wb") as out:
        writer = BackupWriter(out, None)
        out.write(writer._header(member, len(stored)))
        out.write(stored + b"\0" * (-len(stored) % 512))
        writer.finish(manifest_module.encode(manifest))
