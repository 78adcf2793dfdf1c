"""Unpacking a part's inner tar into a fresh staging folder, refusing every member that
would land outside it: absolute paths, `..`, links pointing out, writes through links,
device files and fifos, and more bytes than the manifest announced."""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from homei.backup.manifest import BackupError
from homei.backup.unpacker import InnerTarReader, Member

_KINDS = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE)


class HostileArchive(BackupError):
    """A member that would write outside its target, or is of a refused kind."""


def _clean(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    parts = [p for p in path.parts if p not in ("", ".")]
    if path.is_absolute() or not parts or ".." in parts or "\x00" in name:
        raise HostileArchive(f"Refused archive member '{name[:200]}': it leaves its target")
    return PurePosixPath(*parts)


def _inside(path: PurePosixPath, tops: frozenset[str]) -> bool:
    return any(path.parts[: len(PurePosixPath(t).parts)] == PurePosixPath(t).parts for t in tops)


class Extractor:
    """Extracts members below `root`, each under one of the part's `tops`."""

    def __init__(
        self,
        root: Path,
        tops: frozenset[str],
        max_bytes: int,
        on_bytes: Callable[[int], None] = lambda n: None,
    ) -> None:
        self._root = root
        self._tops = tops
        self._max = max_bytes
        self._on_bytes = on_bytes
        self._written = 0
        self._links: set[PurePosixPath] = set()
        self._files: set[PurePosixPath] = set()
        self._dirs: list[tuple[Path, Member]] = []
        self.files = 0

    def extract_all(self, archive: InnerTarReader) -> None:
        for member in archive:
            self._extract(archive, member)
        for path, member in reversed(self._dirs):  # deepest first, after their contents
            self._finish_meta(path, member)

    def _target(self, member: Member) -> tuple[PurePosixPath, Path]:
        relative = _clean(member.name)
        if not _inside(relative, self._tops):
            raise HostileArchive(f"Refused archive member '{member.name[:200]}': not in this part")
        for depth in range(1, len(relative.parts)):
            if PurePosixPath(*relative.parts[:depth]) in self._links | self._files:
                raise HostileArchive(
                    f"Refused archive member '{member.name[:200]}': it goes through a link"
                )
        return relative, self._root / relative

    def _extract(self, archive: InnerTarReader, member: Member) -> None:
        if member.kind not in _KINDS:
            raise HostileArchive(
                f"Refused archive member '{member.name[:200]}': device files, fifos and sparse "
                "files are not restored"
            )
        relative, path = self._target(member)
        if relative in self._links or relative in self._files:
            raise HostileArchive(f"Refused archive member '{member.name[:200]}': a duplicate")
        path.parent.mkdir(parents=True, exist_ok=True)
        if member.isdir():
            if not path.is_dir() or path.is_symlink():
                path.mkdir()
            self._dirs.append((path, member))
            return
        if member.issym():
            self._symlink(member, relative, path)
            return
        if member.islnk():
            self._hardlink(member, path)
            self._files.add(relative)
            return
        self._write(archive, member, path)
        self._files.add(relative)
        self._finish_meta(path, member)

    def _symlink(self, member: Member, relative: PurePosixPath, path: Path) -> None:
        target = PurePosixPath(member.linkname)
        top = next(t for t in self._tops if _inside(relative, frozenset({t})))
        resolved = [p for p in (relative.parent / target).parts if p != "."]
        depth = 0
        for part in resolved[len(PurePosixPath(top).parts) :]:
            depth += -1 if part == ".." else 1
            if depth < 0:
                break
        if target.is_absolute() or depth < 0 or not member.linkname:
            raise HostileArchive(
                f"Refused link '{member.name[:200]}' -> '{member.linkname[:200]}': it points out"
            )
        os.symlink(member.linkname, path)
        self._links.add(relative)
        self._finish_meta(path, member)

    def _hardlink(self, member: Member, path: Path) -> None:
        source = _clean(member.linkname)
        if source not in self._files or not _inside(source, self._tops):
            raise HostileArchive(
                f"Refused hard link '{member.name[:200]}': its target is not an earlier file"
            )
        os.link(self._root / source, path, follow_symlinks=False)

    def _write(self, archive: InnerTarReader, member: Member, path: Path) -> None:
        if self._written + member.size > self._max:
            raise HostileArchive(
                f"Refused archive member '{member.name[:200]}': the part holds more than the "
                f"{self._max} bytes its manifest announced"
            )
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
        try:
            archive.write_data(fd, self._on_bytes)
        finally:
            os.close(fd)
        self._written += member.size
        self.files += 1

    def _finish_meta(self, path: Path, member: Member) -> None:
        if os.geteuid() == 0:
            os.lchown(path, member.uid, member.gid)
        if not member.issym():
            # No set-user-ID or set-group-ID bits from a backup.
            os.chmod(path, member.mode & 0o1777)
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)


def is_refused_kind(mode: int) -> bool:
    """Files a backup leaves out: devices, fifos, sockets."""
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))
