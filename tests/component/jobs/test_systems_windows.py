"""`system_type: windows` through the API, against a test double of a Windows OpenSSH server.

No Windows host can run here, so a TEST DOUBLE stands in: a tiny asyncssh server on
loopback that answers `whoami`, `hostname` and `ver` as Windows' `cmd.exe` does (CRLF line
ends, `DOMAIN\\user`, the `Microsoft Windows [Version ...]` banner), and records every
command it was sent, so the test sees what Homei asks of a Windows shell.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncssh
import pytest

from tests.component.jobs.conftest import SYSTEMS_TOML

USER, PASSWORD = "Administrator", "windows-double-password"
ANSWERS = {
    "whoami": "win-host\\administrator\r\n",
    "hostname": "WIN-HOST\r\n",
    "ver": "\r\nMicrosoft Windows [Version 10.0.20348.2340]\r\n",
    "echo homei": "homei\r\n",
}


class WindowsDouble:
    """The test double: the commands it was sent, and its port."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.port = 0

    def handle(self, process: Any) -> None:
        command = process.command or ""
        self.commands.append(command)
        answer = ANSWERS.get(command)
        if answer is None and command.startswith('set "'):
            answer = "from env\r\n"  # what `echo %NAME%` prints once cmd.exe set it
        if answer is None:
            process.stderr.write(f"'{command}' is not recognized as an internal command\r\n")
            process.exit(1)
            return
        process.stdout.write(answer)
        process.exit(0)


class _PasswordOnly(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return (username, password) == (USER, PASSWORD)


@pytest.fixture
async def windows() -> AsyncIterator[WindowsDouble]:
    double = WindowsDouble()
    key = await asyncio.to_thread(asyncssh.generate_private_key, "ssh-ed25519")
    server = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_host_keys=[key],
        server_factory=_PasswordOnly,
        process_factory=double.handle,
        encoding="utf-8",
    )
    double.port = server.sockets[0].getsockname()[1]
    yield double
    server.close()
    await server.wait_closed()


async def test_a_windows_system_is_tested_with_whoami_hostname_and_ver(make_homei, windows):
    homei = await make_homei(SYSTEMS_TOML)
    admin = await homei.auth()
    body = {"name": "win-1", "hostname": "127.0.0.1", "port": windows.port,
            "username": USER, "password": PASSWORD, "system_type": "windows"}  # fmt: skip
    response = await homei.client.post("/api/v1/systems", json=body, headers=admin)
    assert response.status == 201, await response.text()
    system = await response.json()
    assert system["system_type"] == "windows"

    response = await homei.client.post(f"/api/v1/systems/{system['id']}/test", headers=admin)
    result = await response.json()
    assert result["success"] is True, result
    assert result["system_info"] == {
        "whoami_output": "win-host\\administrator",
        "hostname": "WIN-HOST",
        "os_info": "Microsoft Windows [Version 10.0.20348.2340]",
    }
    assert sorted(windows.commands) == ["hostname", "ver", "whoami"]

    # Environment goes to cmd.exe as `set "K=V" &&`, not as a POSIX `export`.
    chunks: list[tuple[str, str]] = []

    async def sink(stream: str, text: str) -> None:
        chunks.append((stream, text))

    outcome = await homei.components.systems.ssh.run(
        system["id"], "echo %GREETING%", env={"GREETING": "hello"}, output=sink
    )
    assert windows.commands[-1] == 'set "GREETING=hello" && echo %GREETING%'
    assert outcome.exit_code == 0 and chunks == [("stdout", "from env\r\n")]

    outcome = await homei.components.systems.ssh.run(system["id"], "uname -a", env={}, output=sink)
    assert outcome.exit_code == 1 and "not recognized" in chunks[-1][1]
