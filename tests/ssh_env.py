"""Real OpenSSH servers on loopback, standing in for the systems Homei reaches over SSH.

Each server is Debian's `sshd -D -e -f CONFIG` with its own config and port; the host
keys are made once per environment and shared, so starting fifty costs fifty process
starts and nothing more. Logins: `TEST_USER` with `TEST_PASSWORD`, or any key written to
the environment's shared `authorized_keys` (root too, with a key). `UsePAM no`,
`StrictModes no` and `PidFile none`, so nothing outside the environment's folder is used
except the test user, created once on this machine when missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.processes import is_alive, wait_for

SSHD = "/usr/sbin/sshd"
TEST_USER = "homei-ssh"
TEST_PASSWORD = "homei-ssh-password-1"
_USER_LOCK = Path("/tmp/homei-ssh-user.lock")
START_TIMEOUT = 20.0


class SshEnvError(RuntimeError):
    """An sshd did not start or stop as asked."""


def ensure_test_user() -> None:
    """Create `TEST_USER` with `TEST_PASSWORD` once on this machine (needs root)."""
    with _USER_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        known = subprocess.run(["id", "-u", TEST_USER], capture_output=True, check=False)
        if known.returncode != 0:
            subprocess.run(
                ["useradd", "--create-home", "--shell", "/bin/sh", TEST_USER],
                check=True,
                capture_output=True,
            )
        subprocess.run(["chpasswd"], input=f"{TEST_USER}:{TEST_PASSWORD}\n", text=True, check=True)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    """Whether an SSH server sends its banner on `port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


class SshServer:
    """One running sshd."""

    def __init__(self, env: SshEnv, port: int, host_key: str) -> None:
        self.env = env
        self.port = port
        self.host_key = host_key
        self.folder = env.root / f"sshd-{port}"
        self.folder.mkdir(exist_ok=True)
        self.log = self.folder / "sshd.log"
        config = self.folder / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {env.host_key(host_key)}",
                    "PidFile none",
                    "UsePAM no",
                    "StrictModes no",
                    "PasswordAuthentication yes",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin prohibit-password",
                    f"AuthorizedKeysFile {env.authorized_keys}",
                    "MaxStartups 200",
                    "MaxSessions 64",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self) -> str:
        """The last lines sshd wrote."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        return ""

    def ready(self) -> bool:
        """Whether it answers; `SshEnvError` if it died."""
        if self.process.poll() is not None:
            raise SshEnvError(f"sshd on {self.port} exited:\n{self.log_tail()}")
        return _answers(self.port)

    def children(self) -> list[int]:
        """The per-connection sshd processes this server forked."""
        out = subprocess.run(
            ["pgrep", "-P", str(self.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in out.stdout.split()]

    def stop(self) -> None:
        """Stop it and its open sessions, as a host going down would; the port is closed
        when this returns."""
        if self.process.poll() is not None:
            return
        sessions = self.children()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        wait_for(
            lambda: not _answers(self.port) and not any(is_alive(p) for p in sessions),
            10,
            lambda: SshEnvError(f"sshd on {self.port} still answers after stop"),
        )


class SshEnv:
    """A folder of host keys, one shared `authorized_keys`, and the sshd started from it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.authorized_keys = root / "authorized_keys"
        self.authorized_keys.touch()
        self.servers: list[SshServer] = []
        # sshd refuses to start without its privilege separation folder.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        ensure_test_user()

    def host_key(self, name: str = "a") -> Path:
        """The private host key file `name`, made on first use."""
        path = self.root / f"host_key_{name}"
        if not path.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)],
                check=True,
                capture_output=True,
            )
        return path

    def host_key_fingerprint(self, name: str = "a") -> str:
        """`SHA256:...` of host key `name`, as `ssh-keygen -l` prints it."""
        out = subprocess.run(
            ["ssh-keygen", "-l", "-f", f"{self.host_key(name)}.pub"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return out.split()[1]

    def authorize(self, public_key: str) -> None:
        """Let `public_key` (one OpenSSH line) log in as any user of every server."""
        with self.authorized_keys.open("a") as keys:
            keys.write(public_key.strip() + "\n")

    def start(self, *, host_key: str = "a", port: int | None = None) -> SshServer:
        """One sshd, answering when this returns."""
        return self.start_many(1, host_key=host_key, port=port)[0]

    def start_many(
        self, count: int, *, host_key: str = "a", port: int | None = None
    ) -> list[SshServer]:
        """`count` sshd started together, all answering when this returns. A server whose
        free port another process took meanwhile is started again on another one."""
        self.host_key(host_key)
        started = [
            SshServer(self, port if port is not None else free_port(), host_key)
            for _ in range(count)
        ]
        self.servers.extend(started)
        give_up = time.monotonic() + START_TIMEOUT
        for index, server in enumerate(started):
            for attempt in range(3):
                try:
                    wait_for(
                        server.ready,
                        max(give_up - time.monotonic(), 0.1),
                        lambda server=server: SshEnvError(  # type: ignore[misc]
                            f"sshd on {server.port} did not answer:\n{server.log_tail()}"
                        ),
                    )
                    break
                except SshEnvError:
                    lost_race = server.process.poll() is not None and "Address already in use" in (
                        server.log_tail()
                    )
                    if port is not None or attempt == 2 or not lost_race:
                        raise
                    self.servers.remove(server)
                    server = SshServer(self, free_port(), host_key)
                    self.servers.append(server)
                    started[index] = server
        return started

    def stop_all(self) -> None:
        """Stop every server this environment started."""
        for server in self.servers:
            server.stop()
        self.servers.clear()


@contextlib.contextmanager
def ssh_env(root: Path) -> Iterator[SshEnv]:
    """An `SshEnv` in `root`, every server stopped and the folder removed afterwards."""
    env = SshEnv(root)
    try:
        yield env
    finally:
        env.stop_all()
        shutil.rmtree(root, ignore_errors=True)


def session_pids(pattern: str) -> list[int]:
    """Processes on this machine whose command line matches `pattern` (`pgrep -f`)."""
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return [
        int(pid) for pid in out.stdout.split() if is_alive(int(pid)) and int(pid) != os.getpid()
    ]
