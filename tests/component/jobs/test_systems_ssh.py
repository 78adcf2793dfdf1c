"""The SSH executor against real sshd on loopback: logins, output, exit codes, env, cancel,
host key pinning, an unreachable system, and secrets that never appear in clear."""

from __future__ import annotations

import asyncio
import time

import pytest

from homei.jobs.execution import ExecutionError, Stream
from homei.jobs.systems import SystemChanges
from tests.component.jobs.conftest import SYSTEMS_TOML
from tests.processes import wait_for
from tests.ssh_env import TEST_PASSWORD, TEST_USER, free_port, session_pids


class Collected:
    """An `OutputSink` keeping every chunk per stream."""

    def __init__(self) -> None:
        self.chunks: dict[Stream, list[str]] = {"stdout": [], "stderr": []}
        self.first = asyncio.Event()

    async def __call__(self, stream: Stream, text: str) -> None:
        self.chunks[stream].append(text)
        self.first.set()

    def text(self, stream: Stream) -> str:
        return "".join(self.chunks[stream])


@pytest.fixture
async def parts(make_homei):
    homei = await make_homei(SYSTEMS_TOML)
    return homei.components.systems


async def add(parts, port: int, *, password: str | None = TEST_PASSWORD, **fields):
    changes = SystemChanges(
        name=fields.pop("name", f"peer-{port}"),
        hostname="127.0.0.1",
        port=port,
        username=fields.pop("username", TEST_USER),
        auth_method="password" if password else "key",
        **fields,
    )
    system_id = f"00000000-0000-4000-8000-{port:012d}"
    row = await parts.credentials.password_row(system_id, password) if password else None
    return await parts.systems.create(changes, row, system_id=system_id)


async def test_password_login_output_exit_codes_and_env(parts, sshd):
    system = await add(parts, sshd.port)
    out = Collected()
    outcome = await parts.ssh.run(
        system.id,
        'whoami; echo "to err $GREETING" >&2; printf "%s" "$QUOTED"; exit 7',
        env={"GREETING": "hello world", "QUOTED": "it's $HOME `x`"},
        output=out,
    )
    assert outcome.exit_code == 7 and outcome.signal is None
    assert out.text("stdout") == f"{TEST_USER}\nit's $HOME `x`"
    assert out.text("stderr") == "to err hello world\n"
    # The first connection pinned the host key the server presented.
    pinned = (await parts.systems.get(system.id)).host_key_fingerprint
    assert pinned == sshd.env.host_key_fingerprint("a")

    bad_env = parts.ssh.run(system.id, "true", env={"NOT-A-NAME": "x"}, output=out)
    with pytest.raises(ExecutionError) as refused:
        await bad_env
    assert refused.value.code == "VALIDATION_ERROR"


async def test_key_login_with_the_device_key_pair(parts, sshd):
    public = await parts.keypair.public_key()
    assert public.startswith("ssh-ed25519 ")
    system = await add(parts, sshd.port, password=None, name="by-key", username="root")
    out = Collected()
    with pytest.raises(ExecutionError) as refused:
        await parts.ssh.run(system.id, "id -u", env={}, output=out)
    assert refused.value.code == "SSH_AUTH_FAILED"

    sshd.env.authorize(public)
    outcome = await parts.ssh.run(system.id, "id -u", env={}, output=out)
    assert (outcome.exit_code, out.text("stdout")) == (0, "0\n")
    # The private key is on disk only sealed.
    sealed = parts.keypair._path.read_bytes()
    assert b"PRIVATE KEY" not in sealed and parts.keypair._path.stat().st_mode & 0o777 == 0o600


async def test_cancel_stops_the_remote_command(parts, sshd):
    system = await add(parts, sshd.port)
    marker = f"sleep 3{sshd.port % 1000}.5"
    out = Collected()
    run = asyncio.create_task(
        parts.ssh.run(system.id, f"echo started; {marker}; echo never", env={}, output=out)
    )
    await asyncio.wait_for(out.first.wait(), 15)
    assert await asyncio.to_thread(session_pids, marker)
    started = time.monotonic()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert time.monotonic() - started < 5  # TERM took it, no wait for KILL
    await asyncio.to_thread(
        wait_for,
        lambda: not session_pids(marker),
        10,
        lambda: AssertionError(f"{marker} still runs after cancel"),
    )
    assert "never" not in out.text("stdout")


async def test_connection_refused_is_reported_cleanly(parts):
    system = await add(parts, free_port(), name="nobody-home")
    with pytest.raises(ExecutionError) as refused:
        await parts.ssh.run(system.id, "true", env={}, output=Collected())
    assert refused.value.code == "SSH_UNREACHABLE"
    assert "nobody-home" in str(refused.value) and "Errno" not in str(refused.value)
    result = await parts.ssh.probe(system.id)
    assert not result.success and result.error is not None
    assert result.error.code == "SSH_UNREACHABLE"
    assert (await parts.systems.get(system.id)).health_status == "unhealthy"


async def test_changed_host_key_refused_until_accepted(parts, sshd_env):
    port = free_port()
    server = await asyncio.to_thread(sshd_env.start, port=port, host_key="a")
    system = await add(parts, port, name="rekeyed")
    first = await parts.ssh.probe(system.id)
    assert first.success, first.error
    assert first.host_key_fingerprint == sshd_env.host_key_fingerprint("a")
    assert first.system_info is not None and first.system_info.whoami_output == TEST_USER

    # The same address now answers with another host key.
    await asyncio.to_thread(server.stop)
    await asyncio.to_thread(sshd_env.start, port=port, host_key="b")
    for _ in range(2):  # every connection, not just the first, is refused
        with pytest.raises(ExecutionError) as refused:
            await parts.ssh.run(system.id, "true", env={}, output=Collected())
        assert refused.value.code == "HOST_KEY_MISMATCH"
    offered = await parts.systems.offered_host_key(system.id)
    assert offered == sshd_env.host_key_fingerprint("b")

    await parts.systems.accept_host_key(system.id, offered)
    outcome = await parts.ssh.run(system.id, "true", env={}, output=Collected())
    assert outcome.exit_code == 0


async def test_password_never_in_the_database_in_clear(parts, sshd):
    system = await add(parts, sshd.port, name="secretive")
    rows = await parts.systems._store.fetch_all("SELECT * FROM system_secrets")
    assert rows and all(TEST_PASSWORD.encode() not in bytes(row["password"]) for row in rows)
    database = parts.systems._store.path
    for suffix in ("", "-wal"):
        path = database.with_name(database.name + suffix)
        if path.exists():
            assert TEST_PASSWORD.encode() not in path.read_bytes()
    assert await parts.credentials.password(system.id) == TEST_PASSWORD


async def test_one_connection_per_system_reused_then_closed_when_idle(make_homei, sshd_env):
    homei = await make_homei(SYSTEMS_TOML + "idle_timeout = 0.5\n")
    parts = homei.components.systems
    server = await asyncio.to_thread(sshd_env.start)
    system = await add(parts, server.port, name="pooled")
    outs = [Collected() for _ in range(5)]
    results = await asyncio.gather(
        *(parts.ssh.run(system.id, f"echo {i}", env={}, output=o) for i, o in enumerate(outs))
    )
    assert [r.exit_code for r in results] == [0] * 5
    assert [o.text("stdout") for o in outs] == [f"{i}\n" for i in range(5)]
    # sshd forks one process per connection: five commands, one connection.
    assert len(await asyncio.to_thread(server.children)) == 1
    await parts.ssh.run(system.id, "true", env={}, output=Collected())
    assert len(await asyncio.to_thread(server.children)) == 1
    await asyncio.to_thread(
        wait_for,
        lambda: not server.children(),
        10,
        lambda: AssertionError("the idle connection was not closed"),
    )


async def test_a_sealed_password_moved_to_another_system_does_not_open(parts, sshd):
    first = await add(parts, sshd.port, name="first")
    other = await add(parts, sshd.port + 1, name="other", password="another-password")
    store = parts.systems._store
    sealed = (await store.fetch_one(
        "SELECT password FROM system_secrets WHERE system_id = ?", (first.id,)))[0]  # fmt: skip
    await store.execute(
        "UPDATE system_secrets SET password = ? WHERE system_id = ?", (sealed, other.id)
    )
    assert await parts.credentials.password(other.id) is None
    assert await parts.credentials.password(first.id) == TEST_PASSWORD
