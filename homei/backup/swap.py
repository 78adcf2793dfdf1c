"""Swapping restored folders and service specs into place all-or-nothing, with a journal
that lets the next start finish or undo a restore that a crash interrupted.

The journal is written before the first spec is replaced, with every spec as it was. Then
each target is renamed aside (`<target>.homei-old-<id>`) and its staged replacement renamed
in. The restore commits when the journal says so, or when the live database holds the
restore's id (the database is swapped last): then the old folders go. Otherwise every target
gets its old folder back and every service its old spec (`restore.py` puts them back).
"""

from __future__ import annotations

import base64
import errno
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import msgspec

from homei.core.atomic import fsync_dir, write_file_atomic

JOURNAL = "restore-journal.json"


class Move(msgspec.Struct, frozen=True):
    target: Path
    staged: Path
    existed: bool = True

    def aside(self, restore_id: str) -> Path:
        return self.target.with_name(f"{self.target.name}.homei-old-{restore_id}")


class Interrupted(msgspec.Struct, frozen=True):
    """A restore a crash interrupted, as its journal recorded it."""

    id: str
    phase: str
    moves: list[Move]
    # Each service's spec before the restore; None for one it did not declare yet.
    specs: dict[str, bytes | None] = msgspec.field(default_factory=dict)


class FolderSwap:
    """The folder moves of one restore, journalled with the specs the restore replaces."""

    def __init__(
        self,
        journal_dir: Path,
        restore_id: str,
        moves: list[Move],
        specs: Mapping[str, bytes | None] | None = None,
    ) -> None:
        self._journal = journal_dir / JOURNAL
        self.restore_id = restore_id
        self.moves = moves
        self.specs = dict(specs or {})
        self._done: list[Move] = []

    def _write(self, phase: str) -> None:
        record = {
            "id": self.restore_id,
            "phase": phase,
            "moves": [[str(m.target), str(m.staged), m.existed] for m in self.moves],
            "specs": {
                name: None if spec is None else base64.b64encode(spec).decode()
                for name, spec in self.specs.items()
            },
        }
        write_file_atomic(self._journal, json.dumps(record).encode())

    def begin(self) -> None:
        """Journal the specs as they are, before the first one is replaced."""
        self._write("swapping")

    def swap(self) -> None:
        """Move every staged folder into place; on any failure, put the folders back and
        raise (the journal stays until `forget`, for the specs still to put back)."""
        self.moves = [
            Move(m.target, m.staged, m.target.exists() or m.target.is_symlink()) for m in self.moves
        ]
        self._write("swapping")
        try:
            for move in self.moves:
                _place(move, self.restore_id)
                self._done.append(move)
        except BaseException:
            self.undo()
            raise

    def undo(self) -> None:
        """Put the old folders back."""
        for move in reversed(self._done):
            _restore_old(move, self.restore_id)
        self._done.clear()

    def forget(self) -> None:
        """Drop the journal of an undone restore, once its specs are back too."""
        self._journal.unlink(missing_ok=True)

    def commit(self) -> None:
        """The restore stands: record that, then drop the old folders."""
        self._write("committed")
        finish(self._journal, self.moves, self.restore_id)


def _place(move: Move, restore_id: str) -> None:
    move.target.parent.mkdir(parents=True, exist_ok=True)
    aside = move.aside(restore_id)
    if move.target.exists() or move.target.is_symlink():
        os.rename(move.target, aside)
    try:
        os.rename(move.staged, move.target)
    except OSError as err:
        if err.errno != errno.EXDEV:
            raise
        # Another filesystem: copy next to the target first, so the final step is a rename.
        near = move.target.with_name(f"{move.target.name}.homei-new-{restore_id}")
        shutil.copytree(move.staged, near, symlinks=True)
        os.rename(near, move.target)
    fsync_dir(move.target.parent)


def _restore_old(move: Move, restore_id: str) -> None:
    aside = move.aside(restore_id)
    placed = not move.staged.exists() and (move.target.exists() or move.target.is_symlink())
    if not (aside.exists() or aside.is_symlink()):
        if not move.existed and placed:  # a folder the restore created: it goes again
            _remove(move.target, restore_id)
        return  # otherwise the target was never moved aside: it is the old one
    if move.target.exists() or move.target.is_symlink():
        _remove(move.target, restore_id)
    os.rename(aside, move.target)
    fsync_dir(move.target.parent)


def _remove(target: Path, restore_id: str) -> None:
    trash = target.with_name(f"{target.name}.homei-undone-{restore_id}")
    os.rename(target, trash)
    if trash.is_dir() and not trash.is_symlink():
        shutil.rmtree(trash, ignore_errors=True)
    else:
        trash.unlink()


def finish(journal: Path, moves: list[Move], restore_id: str) -> None:
    for move in moves:
        aside = move.aside(restore_id)
        if aside.is_dir() and not aside.is_symlink():
            shutil.rmtree(aside, ignore_errors=True)
        elif aside.exists() or aside.is_symlink():
            aside.unlink()
        near = move.target.with_name(f"{move.target.name}.homei-new-{restore_id}")
        shutil.rmtree(near, ignore_errors=True)
    journal.unlink(missing_ok=True)


def pending(journal_dir: Path) -> Interrupted | None:
    """The restore a crash interrupted; None if there is none."""
    try:
        record = json.loads((journal_dir / JOURNAL).read_text())
    except FileNotFoundError:
        return None
    moves = [Move(Path(t), Path(s), bool(e)) for t, s, e in record["moves"]]
    specs = {
        str(name): None if spec is None else base64.b64decode(spec)
        for name, spec in record.get("specs", {}).items()
    }
    return Interrupted(str(record["id"]), str(record["phase"]), moves, specs)


def recover(journal_dir: Path, interrupted: Interrupted, committed: bool) -> None:
    """Finish (committed: the journal goes) or undo (not: the journal stays until the
    specs are back too, see `forget`) the folder moves of an interrupted restore."""
    restore_id = interrupted.id
    if committed:
        finish(journal_dir / JOURNAL, interrupted.moves, restore_id)
        return
    for move in reversed(interrupted.moves):
        _restore_old(move, restore_id)
        near = move.target.with_name(f"{move.target.name}.homei-new-{restore_id}")
        shutil.rmtree(near, ignore_errors=True)


def forget(journal_dir: Path) -> None:
    """Drop the journal of an undone restore."""
    (journal_dir / JOURNAL).unlink(missing_ok=True)
