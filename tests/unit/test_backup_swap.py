"""Swapping restored folders in: a crash between any two moves is undone (or finished, once
committed) by the recovery the next start runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from homei.backup import swap
from homei.backup.swap import FolderSwap, Move


def setup(tmp_path: Path) -> list[Move]:
    moves = []
    for name in ("a", "b", "c"):
        target, staged = tmp_path / "live" / name, tmp_path / "staging" / name
        staged.mkdir(parents=True)
        (staged / "file").write_text(f"new {name}")
        if name != "c":  # "c" is a folder the restore creates
            target.mkdir(parents=True)
            (target / "file").write_text(f"old {name}")
        moves.append(Move(target, staged))
    return moves


def contents(tmp_path: Path) -> dict[str, str]:
    return {p.parent.name: p.read_text() for p in sorted((tmp_path / "live").glob("*/file"))}


@pytest.mark.parametrize("done", [0, 1, 2, 3])
def test_a_crash_midway_is_undone(tmp_path: Path, done: int):
    moves = setup(tmp_path)
    interrupted = FolderSwap(tmp_path, "r1", moves)
    interrupted.moves = [Move(m.target, m.staged, m.target.exists()) for m in moves]
    interrupted._write("swapping")
    for move in interrupted.moves[:done]:
        swap._place(move, "r1")
    interrupted = swap.pending(tmp_path)
    assert (interrupted.id, interrupted.phase) == ("r1", "swapping")
    swap.recover(tmp_path, interrupted, committed=False)
    assert contents(tmp_path) == {"a": "old a", "b": "old b"}
    swap.forget(tmp_path)
    assert swap.pending(tmp_path) is None
    assert sorted(p.name for p in (tmp_path / "live").iterdir()) == ["a", "b"]


def test_a_committed_swap_is_finished(tmp_path: Path):
    moves = setup(tmp_path)
    done = FolderSwap(tmp_path, "r2", moves)
    done.swap()
    swap.recover(tmp_path, swap.pending(tmp_path), committed=True)
    assert contents(tmp_path) == {"a": "new a", "b": "new b", "c": "new c"}
    assert sorted(p.name for p in (tmp_path / "live").iterdir()) == ["a", "b", "c"]


def test_a_failing_move_undoes_the_others(tmp_path: Path):
    moves = setup(tmp_path)
    moves.append(Move(tmp_path / "live" / "d", tmp_path / "staging" / "missing"))
    failing = FolderSwap(tmp_path, "r3", moves)
    with pytest.raises(FileNotFoundError):
        failing.swap()
    assert contents(tmp_path) == {"a": "old a", "b": "old b"}
    # The journal stays until the caller has put the specs back too.
    assert swap.pending(tmp_path).id == "r3"
    failing.forget()
    assert swap.pending(tmp_path) is None


def test_the_journal_holds_the_specs_as_they_were_before_any_changes(tmp_path: Path):
    specs = {"app": b'{"name": "app", "image": "old"}', "new": None}
    FolderSwap(tmp_path, "r4", [], specs).begin()
    interrupted = swap.pending(tmp_path)
    assert (interrupted.id, interrupted.phase, interrupted.moves) == ("r4", "swapping", [])
    assert interrupted.specs == specs
