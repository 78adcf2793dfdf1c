"""The appliance in QEMU as the tests see it: qemu/boot to power it on, qemu/guest to run
commands in it and cut its power, its serial console, its forwarded API and QEMU's QMP."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import ROOT
from tests.daemon_process import free_port

QEMU = ROOT / "qemu"
BANNER = "Linux version"  # the kernel's first line: a new boot has begun


def wait_for(what: str, condition: Callable[[], Any], timeout: float, poll: float = 1.0) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)


@dataclass
class Appliance:
    """One machine: its run directory keeps its disk across reboots and power cuts."""

    run_dir: Path
    api_port: int = field(default_factory=free_port)
    ssh_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    powered_on: float = 0.0
    console_mark: int = 0

    @property
    def console(self) -> Path:
        return self.run_dir / "serial.log"

    # --- power
    def power_on(self, *, fresh: bool = False) -> None:
        """Start QEMU (from the pristine image with `fresh`); returns at once."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.console_mark = self.console.stat().st_size if self.console.exists() else 0
        command = [str(QEMU / "boot"), "--run-dir", str(self.run_dir)]
        command += ["--api-port", str(self.api_port), "--ssh-port", str(self.ssh_port)]
        with (self.run_dir / "qemu.log").open("ab") as log:
            self.process = subprocess.Popen(
                [*command, *(["--fresh"] if fresh else [])],
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: qemu/boot and QEMU
            )
        self.powered_on = time.monotonic()

    def power_cut(self) -> None:
        """SIGKILL QEMU: nothing the guest has not written to its disk survives."""
        # qemu/boot and the QEMU it started (again after every reset) share a process
        # group; both go at once, so QEMU is not started again.
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def _run_arg(self) -> list[str]:
        return ["--run-dir", str(self.run_dir)]

    # --- the serial console
    def console_text(self, since: int | None = None) -> str:
        """The console since `since` (default: since the last power-on)."""
        try:
            with self.console.open("rb") as handle:
                handle.seek(self.console_mark if since is None else since)
                return handle.read().decode(errors="replace")
        except FileNotFoundError:  # QEMU has not opened it yet
            return ""

    def console_size(self) -> int:
        return self.console.stat().st_size if self.console.exists() else 0

    def wait_console(self, pattern: str, timeout: float, since: int | None = None) -> re.Match:
        """Wait for a console line matching `pattern` (a regex) written after `since`."""
        regex = re.compile(pattern, re.MULTILINE)

        def found() -> re.Match | None:
            self.assert_running()
            return regex.search(self.console_text(since))

        return wait_for(f"console line /{pattern}/", found, timeout, poll=0.5)

    def boots_since(self, since: int) -> int:
        """How many times the kernel started since console offset `since`."""
        return self.console_text(since).count(BANNER)

    def assert_running(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise AssertionError(f"QEMU is not running; console tail:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        text = self.console_text(0)
        return "\n".join(text.splitlines()[-lines:])

    # --- commands in the guest
    def _guest(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(QEMU / "guest"), *self._run_arg(), command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(self, command: str, timeout: float = 60.0, check: bool = True) -> str:
        """Run a shell command in the guest; its stdout (AssertionError if it fails)."""
        result = self._guest(command, timeout)
        if check and result.returncode != 0:
            raise AssertionError(
                f"guest command {command!r} exited {result.returncode}: {result.stderr}"
            )
        return result.stdout

    def try_run(self, command: str, timeout: float = 30.0) -> str | None:
        """The command's stdout, or None while the guest cannot run it (booting, gone)."""
        try:
            result = self._guest(command, timeout)
        except subprocess.TimeoutExpired:
            return None
        return result.stdout if result.returncode == 0 else None

    # --- the API through the forwarded port
    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        """One HTTP call; (status, decoded JSON), (0, reason) when nothing answers."""
        data = kwargs.get("data")
        headers = {}
        if data is not None:  # a file streamed as the body
            size = os.fstat(data.fileno()).st_size
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        if body is not None:
            data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}{path}", data=data, method=method, headers=headers
        )
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=kwargs.get("timeout", 30)) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")
        except (OSError, ValueError) as err:  # refused, reset, timed out: not serving
            return 0, str(err)

    def wait_api(self, timeout: float) -> dict[str, Any]:
        """Wait until `/health` answers 200 through the forwarded port; its body."""

        def healthy() -> dict[str, Any] | None:
            self.assert_running()
            status, body = self.request("GET", "/health", timeout=5)
            return body if status == 200 else None

        return wait_for("the API's /health", healthy, timeout)

    def login(self) -> str:
        """An admin token, with the initial password read inside the guest."""
        password = self.run("cat /var/lib/homei/initial-admin-password").strip()
        status, body = self.request(
            "POST", "/api/v1/auth/login", {"username": "admin", "password": password}
        )
        assert status == 200, body
        return str(body["access_token"])

    def update_status(self, token: str) -> dict[str, Any] | None:
        status, body = self.request("GET", "/api/v1/update/status", token=token, timeout=10)
        return body if status == 200 else None

    # --- QEMU's monitor protocol, for what only the machine knows (the watchdog firing)
    def qmp(self) -> Qmp:
        return Qmp(self.run_dir / "qmp.sock")


class Qmp:
    """A QMP session: receives the machine's events (WATCHDOG, RESET, ...)."""

    def __init__(self, path: Path) -> None:
        self._sock = socket.socket(socket.AF_UNIX)
        self._sock.connect(str(path))
        self._file = self._sock.makefile("rwb")
        self._read()  # greeting
        self._file.write(b'{"execute": "qmp_capabilities"}\n')
        self._file.flush()
        self.events: list[dict[str, Any]] = []
        while "return" not in self._read():
            pass

    def _read(self) -> dict[str, Any]:
        line = self._file.readline()
        if not line:
            raise ConnectionError("QMP closed")
        message: dict[str, Any] = json.loads(line)
        if "event" in message:
            self.events.append(message)
        return message

    def wait_event(self, name: str, timeout: float) -> dict[str, Any]:
        """The first event `name` (already received, or arriving within `timeout`)."""
        deadline = time.monotonic() + timeout
        while not any(e["event"] == name for e in self.events):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no QMP event {name} within {timeout:.0f}s: {self.events}")
            self._sock.settimeout(remaining)
            try:
                self._read()
            except TimeoutError:
                continue
        return next(e for e in self.events if e["event"] == name)

    def close(self) -> None:
        self._file.close()
        self._sock.close()
