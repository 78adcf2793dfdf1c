"""`homei serve` as a real child process, with a notify socket standing in for systemd's."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import clean_environ, homei_command

START_DEADLINE = 60.0


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NotifySocket:
    """Receives `sd_notify` datagrams the way systemd does."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.unlink(missing_ok=True)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self.messages: list[str] = []

    def wait_for(self, field_: str, timeout: float = START_DEADLINE) -> list[str]:
        """Collect datagrams until one holds the line `field_`; all received so far."""
        deadline = time.monotonic() + timeout
        while not any(field_ in m.splitlines() for m in self.messages):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {field_} within {timeout}s; got {self.messages}")
            self._sock.settimeout(remaining)
            try:
                self.messages.append(self._sock.recv(4096).decode())
            except TimeoutError:
                continue
        return self.messages

    def drain(self, seconds: float) -> list[str]:
        """Everything received during the next `seconds`."""
        received: list[str] = []
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self._sock.settimeout(remaining)
            try:
                received.append(self._sock.recv(4096).decode())
            except TimeoutError:
                break
        self.messages.extend(received)
        return received

    def close(self) -> None:
        self._sock.close()


@dataclass
class HomeiProcess:
    """A daemon started for one test, stopped at its end."""

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]
    notify: NotifySocket
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_password(self) -> str:
        return (self.data_dir / "initial-admin-password").read_text().strip()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        """One blocking HTTP call; (status, decoded JSON or text)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw, status, kind = response.read(), response.status, response.headers
        except urllib.error.HTTPError as err:
            raw, status, kind = err.read(), err.code, err.headers
        if kind.get_content_type() == "application/json":
            return status, json.loads(raw)
        return status, raw.decode()

    def login(self) -> str:
        status, body = self.request(
            "POST", "/api/v1/auth/login", {"username": "admin", "password": self.admin_password}
        )
        assert status == 200, body
        return str(body["access_token"])

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.notify.close()
        return self.process.returncode


def start_homei(tmp_path: Path, *args: str, wait: bool = True, **environ: str) -> HomeiProcess:
    """Start `homei serve` on a free port with its data under `tmp_path`; wait for READY=1."""
    data_dir = tmp_path / "data"
    port = free_port()
    notify = NotifySocket(tmp_path / "notify.sock")
    log_path = tmp_path / "homei.log"
    # No Docker unless a test brings one: then the daemon must not wait on the machine's.
    defaults = {
        "HOMEI_DOCKER__URL": "unix:///nonexistent/homei-test-docker.sock",
        "HOMEI_DOCKER__REQUIRED": "false",
    }
    env = clean_environ(
        NOTIFY_SOCKET=str(notify.path),
        HOMEI_CONFIG=str(tmp_path / "none.toml"),
        **{**defaults, **environ},
    )
    (tmp_path / "none.toml").touch()  # kept as a restarted daemon left it
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                *homei_command(),
                "serve",
                "--data-dir",
                str(data_dir),
                "--listen",
                f"127.0.0.1:{port}",
                *args,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    homei = HomeiProcess(data_dir, port, process, notify, log_path)
    if wait:
        try:
            notify.wait_for("READY=1")
        except TimeoutError:
            homei.stop()
            raise AssertionError(f"homei did not become ready:\n{homei.log()}") from None
    return homei
