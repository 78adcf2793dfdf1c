"""The backup engine against a real Homei (its SQLite, tasks and events) and services that
are real folders (tests/service_dirs.py): round trips byte for byte, encryption, failures
that must leave everything as it was, a disk that fills up, concurrent requests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from homei.backup import swap
from homei.backup.catalog import BackupCatalog
from homei.backup.homei_part import HomeiPart
from homei.backup.manager import BackupBusy, BackupManager, BackupRequest, WrongPassword
from homei.backup.manifest import BackupType
from homei.backup.task_kind import backup_task_kind
from homei.core.errors import InsufficientStorage, ValidationError
from tests.backup_files import crafted_backup, fill_tree, inner_tar, snapshot
from tests.service_dirs import DirectoryServices
from tests.unit.test_backup_archive import HOSTILE


class Engine:
    def __init__(self, homei, root: Path, backups_dir: Path | None = None) -> None:
        c = homei.components
        self.homei = homei
        self.services = DirectoryServices(root / "services")
        self.settings_file = root / "homei.toml"
        self.settings_file.write_text("# device settings v1\n")
        self.catalog = BackupCatalog(backups_dir or root / "backups", 2**40)
        self.part = HomeiPart(c.store, c.settings and homei_migrations(), b"{}", self.settings_file)
        self.manager = BackupManager(self.catalog, self.part, self.services, c.tasks, c.events)
        # `POST /tasks {"type": "backup"}` reaches this engine's manager, not the daemon's.
        c.tasks.register(backup_task_kind(self.manager))

    async def create(self, **request) -> dict:
        record = await self.manager.create(BackupRequest(**request))
        final = await self.homei.components.tasks.wait(record.id)
        assert final.status == "completed", final.error
        return final.result

    async def restore(self, name: str, **options):
        record = await self.manager.restore(name, **options)
        return await self.homei.components.tasks.wait(record.id)

    async def users(self) -> set[str]:
        rows = await self.homei.components.store.fetch_all("SELECT username FROM users")
        return {r[0] for r in rows}


def homei_migrations():
    from homei.app import MIGRATIONS

    return MIGRATIONS


@pytest.fixture
async def engine(homei, tmp_path: Path) -> Engine:
    engine = Engine(homei, tmp_path)
    for name in ("app", "db"):
        engine.services.add(name, volumes=("data", "cache"))
        await asyncio.to_thread(fill_tree, engine.services.config_dir(name), f"{name}-config")
        await asyncio.to_thread(fill_tree, engine.services.volume_dir(name), f"{name}-data")
    await engine.manager.start()
    return engine


def state_of(engine: Engine) -> dict:
    s = engine.services
    return {
        name: (snapshot(s.config_dir(name)), snapshot(s.volume_dir(name))) for name in ("app", "db")
    }


async def damage(engine: Engine) -> None:
    """Change everything a restore should put back."""
    for name in ("app", "db"):
        (engine.services.volume_dir(name) / "notes.txt").write_text("changed")
        (engine.services.volume_dir(name) / "new-file").write_text("new")
        (engine.services.config_dir(name) / "sub" / "random.bin").unlink()
    await engine.homei.add_user("after-backup", "viewer")
    engine.settings_file.write_text("# device settings v2\n")


async def test_full_backup_round_trips_byte_for_byte(engine: Engine):
    before = await asyncio.to_thread(state_of, engine)
    events = engine.homei.components.events.subscribe(["backup:*", "system:backup:*"])
    result = await engine.create(name="nightly full!")
    assert result["name"].startswith("nightly-full-") and result["name"].endswith(".tar")
    # Each service was stopped for its backup and brought back.
    assert engine.services.calls == [("stop", "app"), ("resume", "app"),
                                     ("stop", "db"), ("resume", "db")]  # fmt: skip
    assert engine.services.state == {"app": "running", "db": "running"}
    listed = await engine.manager.list()
    assert [b.name for b in listed] == [result["name"]]
    manifest = listed[0].manifest
    assert manifest.type is BackupType.FULL and manifest.homei
    assert manifest.services == ["app", "db"]
    seen = []
    while "system:backup:completed" not in seen:
        seen.append((await asyncio.wait_for(events.get(), 10)).type)
    assert {"backup:started", "backup:completed"} <= set(seen)

    await damage(engine)
    engine.services.calls.clear()
    task = await engine.restore(result["name"])
    assert task.status == "completed", task.error
    assert await asyncio.to_thread(state_of, engine) == before
    assert "after-backup" not in await engine.users()
    assert engine.settings_file.read_text() == "# device settings v1\n"
    assert engine.services.calls == [("stop", "app"), ("stop", "db"),
                                     ("start", "app"), ("start", "db")]  # fmt: skip
    # The task that restored is still known, though the database was replaced under it.
    assert (await engine.homei.components.tasks.get(task.id)).status == "completed"
    leftovers = [p.name for p in engine.catalog.directory.iterdir() if p.name.startswith(".")]
    assert leftovers == []


async def test_one_service_restores_alone_out_of_a_full_backup(engine: Engine):
    before = await asyncio.to_thread(state_of, engine)
    name = (await engine.create())["name"]
    await damage(engine)
    damaged = await asyncio.to_thread(state_of, engine)
    task = await engine.restore(name, services=["db"])
    assert task.status == "completed", task.error
    after = await asyncio.to_thread(state_of, engine)
    assert after["db"] == before["db"]
    assert after["app"] == damaged["app"]
    assert "after-backup" in await engine.users()  # Homei's part was not asked for


async def test_partial_backup_holds_only_what_was_asked(engine: Engine):
    before = await asyncio.to_thread(state_of, engine)
    name = (await engine.create(type=BackupType.PARTIAL, services=["app"]))["name"]
    stored = await engine.manager.get(name)
    assert stored.manifest.services == ["app"] and not stored.manifest.homei
    assert engine.services.calls == [("stop", "app"), ("resume", "app")]
    await damage(engine)
    assert (await engine.restore(name)).status == "completed"
    after = await asyncio.to_thread(state_of, engine)
    assert after["app"] == before["app"] and after["db"] != before["db"]
    with pytest.raises(ValidationError):
        await engine.manager.create(BackupRequest(type=BackupType.PARTIAL, services=["nope"]))


async def test_pause_and_live_modes_are_honoured(engine: Engine):
    engine.services.modes.update({"app": "pause", "db": "live"})
    await engine.create(type=BackupType.PARTIAL, services=["app", "db"], include_data=False)
    assert engine.services.calls == [("pause", "app"), ("resume", "app")]
    assert engine.services.state == {"app": "running", "db": "running"}


async def test_encrypted_round_trip_and_wrong_password(engine: Engine):
    before = await asyncio.to_thread(state_of, engine)
    name = (await engine.create(password="correct horse battery"))["name"]
    raw = (engine.catalog.directory / name).read_bytes()
    assert b"app-data" not in raw and b"CREATE TABLE" not in raw
    with pytest.raises(WrongPassword, match="Wrong password"):
        await engine.manager.restore(name, password="wrong horse battery")
    with pytest.raises(WrongPassword, match="encrypted"):
        await engine.manager.restore(name)
    await damage(engine)
    task = await engine.restore(name, password="correct horse battery")
    assert task.status == "completed", task.error
    assert await asyncio.to_thread(state_of, engine) == before


async def test_a_damaged_backup_touches_nothing(engine: Engine):
    name = (await engine.create())["name"]
    path = engine.catalog.directory / name
    with tarfile.open(path) as outer:
        member = outer.getmember("parts/services/db.tar.zst")
    data = bytearray(path.read_bytes())
    data[member.offset_data + member.size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    await damage(engine)
    damaged = await asyncio.to_thread(state_of, engine)
    engine.services.calls.clear()
    task = await engine.restore(name)
    assert task.status == "failed" and "damaged" in task.error
    assert await asyncio.to_thread(state_of, engine) == damaged
    assert engine.services.calls == []  # never stopped for a backup that fails its check
    assert "after-backup" in await engine.users()


@pytest.mark.parametrize("case", ["absolute", "dot-dot", "symlink-out", "write-through-link"])
async def test_a_hostile_backup_writes_nowhere(engine: Engine, tmp_path: Path, case: str):
    path = engine.catalog.directory / "hostile-20240101-000000.tar"
    await asyncio.to_thread(crafted_backup, path, "app", inner_tar(HOSTILE[case]))
    damaged = await asyncio.to_thread(state_of, engine)
    task = await engine.restore("hostile-20240101-000000.tar")
    assert task.status == "failed" and "Refused" in task.error
    assert await asyncio.to_thread(state_of, engine) == damaged
    assert not Path("/tmp/homei-escape").exists()


async def test_a_failed_swap_leaves_the_old_data(engine: Engine):
    name = (await engine.create())["name"]
    await damage(engine)
    damaged = await asyncio.to_thread(state_of, engine)
    engine.services.fail_on_stop.add("db")
    task = await engine.restore(name)
    assert task.status == "failed" and "would not stop" in task.error
    assert await asyncio.to_thread(state_of, engine) == damaged
    assert "after-backup" in await engine.users()
    assert engine.services.state == {"app": "running", "db": "running"}


async def change_specs(engine: Engine) -> dict[str, bytes]:
    """Declare both services differently from the backup; the specs as they now are."""
    for name in ("app", "db"):
        spec = json.loads(await engine.services.export_spec(name))
        await engine.services.import_spec(name, json.dumps({**spec, "image": "changed"}).encode())
    return {name: await engine.services.export_spec(name) for name in ("app", "db")}


@pytest.mark.parametrize("dies_at", ["second spec", "database"])
async def test_a_restore_that_dies_midway_is_undone_specs_and_folders(
    engine: Engine, tmp_path: Path, dies_at: str
):
    name = (await engine.create())["name"]
    await damage(engine)
    specs = await change_specs(engine)
    damaged = await asyncio.to_thread(state_of, engine)
    reached = asyncio.Event()

    async def die() -> None:
        reached.set()
        await asyncio.Future()  # the daemon dies here: nothing after this point runs

    import_spec, swap_in = engine.services.import_spec, engine.part.swap_in

    async def import_then_die(service: str, spec: bytes) -> None:
        if service == "db" and dies_at == "second spec":
            await die()
        await import_spec(service, spec)

    async def die_before_database(staged: Path) -> bool:
        await die()
        return await swap_in(staged)

    engine.services.import_spec = import_then_die
    engine.part.swap_in = die_before_database
    record = await engine.manager.restore(name)
    await asyncio.wait_for(reached.wait(), 30)
    assert await engine.services.export_spec("app") != specs["app"]  # already replaced
    if dies_at == "database":
        assert await asyncio.to_thread(state_of, engine) != damaged  # folders swapped in

    # The next start, on what the dead daemon left on disk.
    restarted = Engine(engine.homei, tmp_path)
    await restarted.manager.start()
    assert {n: await restarted.services.export_spec(n) for n in ("app", "db")} == specs
    assert await asyncio.to_thread(state_of, restarted) == damaged
    assert swap.pending(restarted.catalog.directory) is None
    engine.services.import_spec, engine.part.swap_in = import_spec, swap_in
    await engine.homei.components.tasks.cancel(record.id)


async def test_one_backup_or_restore_at_a_time(engine: Engine):
    first = await engine.manager.create(BackupRequest())
    with pytest.raises(BackupBusy):
        await engine.manager.create(BackupRequest())
    results = await asyncio.gather(
        *(engine.manager.create(BackupRequest()) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, BackupBusy) for r in results)
    done = await engine.homei.components.tasks.wait(first.id)
    assert done.status == "completed"
    with pytest.raises(BackupBusy):
        await asyncio.gather(
            engine.manager.restore(done.result["name"]), engine.manager.create(BackupRequest())
        )
    await wait_idle(engine)
    assert len(await engine.manager.list()) == 1


async def wait_idle(engine: Engine) -> None:
    async with asyncio.timeout(30):
        while engine.manager.is_busy:
            await asyncio.sleep(0.05)


async def test_leftovers_are_swept_and_never_listed(engine: Engine):
    name = (await engine.create())["name"]
    for leftover in (".partial-abc", ".upload-def"):
        (engine.catalog.directory / leftover).write_bytes(b"half a backup")
    (engine.catalog.directory / ".restore-123").mkdir()
    assert [b.name for b in await engine.manager.list()] == [name]
    await engine.manager.start()
    assert sorted(p.name for p in engine.catalog.directory.iterdir()) == [name]


@pytest.fixture
def small_disk(tmp_path: Path):
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(mountpoint)], check=True)
    yield mountpoint
    subprocess.run(["umount", "-l", str(mountpoint)], check=False)


async def test_a_disk_that_fills_fails_the_backup_cleanly(homei, tmp_path: Path, small_disk):
    engine = Engine(homei, tmp_path, backups_dir=small_disk / "backups")
    engine.services.add("app")
    (engine.services.volume_dir("app") / "random").write_bytes(os.urandom(4 * 2**20))
    await engine.manager.start()
    earlier = (await engine.create(type=BackupType.PARTIAL, services=["app"]))["name"]
    filler = small_disk / "filler"
    original = engine.services.quiesced

    def fill() -> None:
        free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
        filler.write_bytes(b"\0" * (free - 2 * 2**20))

    @contextlib.asynccontextmanager
    async def fill_then_quiesce(name, mode):
        # The disk fills up after the free-space check, while the backup is written.
        await asyncio.to_thread(fill)
        async with original(name, mode):
            yield

    engine.services.quiesced = fill_then_quiesce
    record = await engine.manager.create(BackupRequest(type=BackupType.PARTIAL, services=["app"]))
    task = await homei.components.tasks.wait(record.id)
    assert task.status == "failed" and "disk filled up" in task.error
    assert engine.services.state == {"app": "running"}
    assert [b.name for b in await engine.manager.list()] == [earlier]
    assert sorted(p.name for p in engine.catalog.directory.iterdir()) == [earlier]
    # With no room at all, the backup is refused before it starts.
    with pytest.raises(InsufficientStorage):
        await engine.manager.create(BackupRequest(type=BackupType.PARTIAL, services=["app"]))
