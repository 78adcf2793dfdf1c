"""Real OpenSSH servers on loopback for the systems and jobs tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ssh_env import SshEnv, SshServer, ssh_env

# Health checks off: the tests decide when a system is tried.
SYSTEMS_TOML = """
[rate_limits]
enabled = false
[docker]
url = "unix:///nonexistent/homei-test-docker.sock"
required = false
[update]
dbus_address = "unix:path=/nonexistent/homei-test-bus"
[systems]
health_checks = false
connect_timeout = 10
"""


@pytest.fixture(scope="session")
def sshd_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshEnv]:
    """One folder of host keys and `authorized_keys` for the whole session."""
    with ssh_env(tmp_path_factory.mktemp("sshd")) as env:
        yield env


@pytest.fixture(scope="session")
def sshd(sshd_env: SshEnv) -> SshServer:
    """One sshd shared by the session's tests (host key `a`)."""
    return sshd_env.start()
