"""`homei systems ls|add|test|rm|key` against a real `homei serve` and a real sshd; the
password it is given never reaches the daemon's log or its database file in clear, and the
systems and the device's key pair outlive a restart."""

from __future__ import annotations

import json

from tests.component.test_cli import homei_cli
from tests.daemon_process import start_homei
from tests.ssh_env import TEST_PASSWORD, TEST_USER, free_port


def test_systems_commands(tmp_path, sshd):
    (tmp_path / "device").mkdir()
    homei = start_homei(
        tmp_path / "device",
        HOMEI_RATE_LIMITS__ENABLED="false",
        HOMEI_LOG_LEVEL="debug",
        HOMEI_SYSTEMS__HEALTH_INTERVAL="0.5",
    )
    try:
        cli = lambda *args, **kw: homei_cli(tmp_path, *args, **kw)  # noqa: E731
        login = cli("login", "--url", homei.url, "--password-stdin", stdin=homei.admin_password)
        assert login.returncode == 0, login.stderr
        port = str(sshd.port)
        added = cli("systems", "add", "nas", "127.0.0.1", "--port", port, "--user", TEST_USER,
                    "--password-stdin", "--json", stdin=TEST_PASSWORD + "\n")  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert json.loads(added.stdout)["auth_method"] == "password"
        down = cli("systems", "add", "down", "127.0.0.1", "--port", str(free_port()))
        assert down.returncode == 0, down.stderr
        assert "ssh-ed25519 " in down.stdout  # the key to install, as key login is the default

        listed = cli("systems", "ls")
        assert listed.returncode == 0 and listed.stdout.splitlines()[0].startswith("NAME")
        names = [line.split()[0] for line in listed.stdout.splitlines()[1:]]
        assert names == ["local", "down", "nas"]

        tested = cli("systems", "test", "nas")
        assert tested.returncode == 0, tested.stderr
        assert f"whoami: {TEST_USER}" in tested.stdout and "host key: SHA256:" in tested.stdout
        failed = cli("systems", "test", "down")
        assert failed.returncode == 1 and "SSH_UNREACHABLE" in failed.stderr
        key = cli("systems", "key").stdout
        assert key.startswith("ssh-ed25519 ")

        assert cli("systems", "rm", "down").returncode == 0
        missing = cli("systems", "rm", "down")
        assert missing.returncode == 1 and "SYSTEM_NOT_FOUND" in missing.stderr
        assert cli("systems", "rm", "local").returncode == 1
    finally:
        homei.stop()
    assert TEST_PASSWORD not in homei.log()
    assert "Pinned host key" in homei.log()
    data = tmp_path / "device" / "data"
    for path in data.glob("homei.db*"):
        assert TEST_PASSWORD.encode() not in path.read_bytes()

    # After a restart: the same systems, the same key pair, the pinned host key still used.
    homei = start_homei(tmp_path / "device", HOMEI_RATE_LIMITS__ENABLED="false")
    try:
        cli("login", "--url", homei.url, "--password-stdin", stdin=homei.admin_password)
        assert cli("systems", "key").stdout == key
        listed = cli("systems", "ls", "--json")
        assert [s["name"] for s in json.loads(listed.stdout)["systems"]] == ["local", "nas"]
        assert cli("systems", "test", "nas").returncode == 0
    finally:
        homei.stop()
