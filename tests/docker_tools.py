"""The docker binaries and the Engine API over its unix socket, for tests and benchmarks: no
engine of its own (see `tests.docker_env` for that)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Where Debian puts dockerd and docker-proxy; not always on a test runner's PATH.
SYSTEM_PATH = os.pathsep.join(("/usr/local/sbin", "/usr/sbin", "/sbin"))


def _search_path() -> str:
    return os.pathsep.join((os.environ.get("PATH", ""), SYSTEM_PATH))


def dockerd_available() -> bool:
    """Whether `dockerd` is installed (the tests skip without it)."""
    return shutil.which("dockerd", path=_search_path()) is not None


def docker_cli() -> str:
    """The docker client: $DOCKER, else the one installed beside dockerd (Debian's
    /usr/bin/docker, the engine's own version), else `docker` on PATH. Any of them negotiates
    the API version with the engine (a 28.x client speaks 1.41 to Debian's 20.10)."""
    chosen = os.environ.get("DOCKER")
    if chosen:
        return chosen
    dockerd = shutil.which("dockerd", path=_search_path())
    if dockerd is not None:
        sbin = Path(dockerd).parent
        for candidate in (sbin / "docker", sbin.parent / "bin" / "docker"):
            if os.access(candidate, os.X_OK):
                return str(candidate)
    found = shutil.which("docker")
    if found is None:
        raise DockerEnvError("no docker client found (apt-get install docker.io)")
    return found


class DockerEnvError(RuntimeError):
    """A step of the Docker test environment failed or timed out."""


@dataclass(frozen=True)
class ApiResponse:
    """An answer of the Engine API: its status and body (parsed when it is JSON)."""

    status: int
    body: Any
    headers: dict[str, str]


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("docker", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def engine_ping(socket_path: Path) -> bool:
    """Whether the engine at `socket_path` answers `GET /_ping` now."""
    try:
        response = engine_request(socket_path, "GET", "/_ping", None, None, 5.0)
    except (OSError, http.client.HTTPException):
        return False
    return response.status == 200


def engine_request(
    socket_path: Path,
    method: str,
    path: str,
    body: Any,
    query: dict[str, Any] | None,
    timeout: float,
) -> ApiResponse:
    """One Engine API request over the unix socket; dict and list query values go as JSON."""
    if query:
        encoded = {
            k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in query.items()
        }
        path = f"{path}?{urllib.parse.urlencode(encoded)}"
    headers = {}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection = _UnixConnection(str(socket_path), timeout)
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
        response_headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()
    parsed: Any = data
    if response_headers.get("content-type", "").startswith("application/json") and data:
        parsed = json.loads(data)
    elif data:
        parsed = data.decode(errors="replace")
    return ApiResponse(response.status, parsed, response_headers)
