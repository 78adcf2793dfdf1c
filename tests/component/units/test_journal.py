"""The journal reader against a real journald writing into the test's folder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from homei.core.errors import ValidationError
from homei.journal.reader import Journal, JournalQuery, JournalUnavailable
from homei.services.policy import Policy
from homei.units import unit_file
from homei.units.artifacts import ArtifactStore
from homei.units.runtime import UnitsRuntime
from homei.units.systemd import Systemd
from tests import journald_env
from tests.journald_env import JournaldEnv, unit_name

pytestmark = pytest.mark.skipif(
    journald_env.available() is not None, reason=str(journald_env.available())
)


@pytest.fixture(scope="module")
def journald(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JournaldEnv]:
    env = JournaldEnv(tmp_path_factory.mktemp("journald") / "journal")
    env.start()
    yield env
    env.stop()


@pytest.fixture
def journal(journald: JournaldEnv) -> Journal:
    return Journal(str(journald.directory))


async def test_a_units_lines_in_order_with_their_level_and_cursor(
    journald: JournaldEnv, journal: Journal
) -> None:
    unit, other = unit_name(), unit_name()
    await asyncio.to_thread(journald.log, "app", ["one", "two", "three"], unit=unit)
    await asyncio.to_thread(journald.log, "app", ["not mine"], unit=other)
    await asyncio.to_thread(journald.log, "app", ["bad"], unit=unit, priority="err")

    entries = await journal.read(JournalQuery(unit=unit))
    assert [e.message for e in entries] == ["one", "two", "three", "bad"]
    assert {e.unit for e in entries} == {unit}
    assert [e.level for e in entries] == ["info", "info", "info", "error"]
    assert entries[0].identifier == "app"
    assert entries[0].timestamp.endswith("Z")
    assert len({e.cursor for e in entries}) == 4

    last_two = await journal.read(JournalQuery(unit=unit, lines=2))
    assert [e.message for e in last_two] == ["three", "bad"]
    after = await journal.read(JournalQuery(unit=unit, cursor=entries[1].cursor))
    assert [e.message for e in after] == ["three", "bad"]
    errors = await journal.read(JournalQuery(unit=unit, priority=3))
    assert [e.message for e in errors] == ["bad"]
    assert await journal.read(JournalQuery(unit=unit, lines=0)) == []


async def test_since_leaves_out_what_came_before(journald: JournaldEnv, journal: Journal) -> None:
    unit = unit_name()
    await asyncio.to_thread(journald.log, "app", ["before"], unit=unit)
    first = (await journal.read(JournalQuery(unit=unit)))[0]
    # A second after the first entry's own time stamp, so clocks need not be compared.
    await asyncio.to_thread(_wait_past, time.time() + 1.1)
    since = time.time()
    await asyncio.to_thread(journald.log, "app", ["after"], unit=unit)
    entries = await journal.read(JournalQuery(unit=unit, since=since))
    assert [e.message for e in entries] == ["after"]
    assert first.message == "before"


def _wait_past(moment: float) -> None:
    while time.time() < moment:
        time.sleep(0.05)


async def test_follow_brings_the_tail_then_new_lines(
    journald: JournaldEnv, journal: Journal
) -> None:
    unit = unit_name()
    await asyncio.to_thread(journald.log, "app", ["old-1", "old-2"], unit=unit)
    stream = journal.follow(JournalQuery(unit=unit, lines=1))
    try:
        first = await asyncio.wait_for(anext(stream), 20)
        assert first.message == "old-2"
        await asyncio.to_thread(journald.log, "app", ["new"], unit=unit)
        second = await asyncio.wait_for(anext(stream), 20)
        assert second.message == "new"
    finally:
        await stream.aclose()


async def test_bad_cursor_is_a_validation_error(journal: Journal) -> None:
    with pytest.raises(ValidationError):
        await journal.read(JournalQuery(cursor="not-a-cursor"))


async def test_a_missing_folder_or_program_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(JournalUnavailable):
        await Journal(str(tmp_path / "absent")).read(JournalQuery())
    with pytest.raises(JournalUnavailable):
        await Journal(str(tmp_path), journalctl="no-such-journalctl").read(JournalQuery())


async def test_a_units_runtime_reads_its_units_journal(
    journald: JournaldEnv, journal: Journal, tmp_path: Path
) -> None:
    """`UnitsRuntime.logs`/`follow` (what the service views and the WebSocket read) answer
    from the unit's journal; its systemd bus is never dialled for logs."""
    runtime = UnitsRuntime(
        Systemd("unix:path=/nonexistent/bus"),
        Policy(service_root=tmp_path),
        tmp_path / "units",
        await asyncio.to_thread(ArtifactStore, tmp_path / "artifacts", 1024),
        (),
        5.0,
        journal=journal,
    )
    await asyncio.to_thread(
        journald.log, "web", ["hello", "world"], unit=unit_file.unit_name("web-logs")
    )
    lines = await runtime.logs("web-logs", tail=10, since=None, timestamps=True, stream="stdout")
    assert [line.partition(" ")[2] for line in lines] == ["hello", "world"]
    assert lines[0].partition(" ")[0].endswith("Z")
    assert (
        await runtime.logs("web-logs", tail=10, since=None, timestamps=False, stream="stderr") == []
    )
    stream = runtime.follow("web-logs", tail=1, since=None, timestamps=False)
    try:
        assert await asyncio.wait_for(anext(stream), 20) == b"world\n"
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
