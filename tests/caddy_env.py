"""A Caddy for tests: Debian's `caddy run` with its admin API and one plain-HTTP server on
loopback ports, under one directory.

    caddy = CaddyServer(tmp_path / "caddy").up()
    caddy.routes()                  # the server's routes, as the admin API reports them
    caddy.fetch("web.local", "/")   # (status, body) of a request by that Host header
    caddy.kill(); caddy.up()        # killed, then started again from the same empty config
    caddy.down()
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.daemon_process import free_port
from tests.processes import is_alive, wait_for

SERVER = "homei"
START_DEADLINE = 30.0


class CaddyEnvError(RuntimeError):
    """Caddy did not start (the tail of its log says why)."""


def caddy_available() -> bool:
    """Whether Debian's `caddy` is installed."""
    return shutil.which("caddy") is not None


def caddy_config(admin_port: int, http_port: int) -> dict[str, Any]:
    """Admin API and one HTTP server on loopback; no HTTPS on the plain listener. Caddy's
    internal CA stays in its own folder: never installed into the machine's trust store."""
    return {
        "admin": {"listen": f"127.0.0.1:{admin_port}"},
        "apps": {
            "pki": {"certificate_authorities": {"local": {"install_trust": False}}},
            "http": {
                "servers": {
                    SERVER: {
                        "listen": [f"127.0.0.1:{http_port}"],
                        "automatic_https": {"disable": True},
                    }
                }
            },
        },
    }


class CaddyServer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.admin_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "caddy.json"
        self.config.write_text(json.dumps(caddy_config(self.admin_port, self.http_port)))

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def log(self) -> str:
        path = self.directory / "caddy.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def up(self) -> CaddyServer:
        """Start Caddy from its config (no routes) and wait for the admin API."""
        env = {
            **os.environ,
            "HOME": str(self.directory),
            "XDG_DATA_HOME": str(self.directory / "data"),
            "XDG_CONFIG_HOME": str(self.directory / "config"),
        }
        with (self.directory / "caddy.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["caddy", "run", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        wait_for(
            self.answers,
            START_DEADLINE,
            lambda: CaddyEnvError(f"Caddy did not start:\n{self.log()}"),
        )
        return self

    def _failed(self) -> CaddyEnvError:
        return CaddyEnvError(f"Caddy did not start:\n{self.log()}")

    def answers(self) -> bool:
        """Whether the admin API answers."""
        try:
            self.admin("GET", "/config/")
        except (OSError, urllib.error.URLError):
            return False
        return True

    def kill(self) -> None:
        """SIGKILL: Caddy gone at once, its routes with it."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def down(self) -> None:
        """Stop Caddy."""
        if self.process is not None and is_alive(self.process.pid):
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """A call to the admin API; its decoded answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.admin_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read().decode()
        return json.loads(text) if text.strip() else None

    def routes(self) -> list[Any]:
        """The server's routes."""
        return self.admin("GET", f"/config/apps/http/servers/{SERVER}/routes") or []

    def fetch(self, host: str, path: str = "/") -> tuple[int, str]:
        """A GET through Caddy's HTTP server by Host header: (status, body)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", headers={"Host": host}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
