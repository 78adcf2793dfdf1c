"""A development device's Docker engine for tests: a private `dockerd` under one directory.

`DockerEngine(directory)` wraps `devdevice/docker-up`, `devdevice/docker-down` and
`devdevice/make-test-image`: Debian's `dockerd` (20.10, API 1.41) with its data root, exec root,
socket and default bridge of its own (beside any system dockerd), and images made locally from
busybox-static, since no registry is reachable. Every call is bounded by a timeout; failures
raise `DockerEnvError` with the tail of dockerd's log. Needs root and Debian's `docker.io`,
`busybox-static`, `iproute2` and `curl`.

    engine = DockerEngine(tmp_path / "docker").up()
    image = engine.make_image()  # "homei-test/busybox:1", made once per engine
    engine.run("run", "-d", "--init", "-p", f"127.0.0.1:{port}:8080", IMAGE,
               "httpd", "-f", "-p", "8080", "-h", "/var/www")
    engine.stop_engine()  # Docker down: the API no longer answers
    engine.start_engine()  # back, same data root: containers restart per their policy
    engine.down()

Containers whose PID 1 ignores SIGTERM (a shell, `sleep`, `httpd` without `--init`) cost their
stop timeout (10 s) whenever the engine stops: give test containers `--init` (Docker's tini)
or a short `--stop-timeout`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.docker_tools import ApiResponse as ApiResponse
from tests.docker_tools import DockerEnvError as DockerEnvError
from tests.docker_tools import docker_cli as docker_cli
from tests.docker_tools import dockerd_available as dockerd_available
from tests.docker_tools import engine_ping, engine_request
from tests.processes import is_alive, run_command, wait_for

REPO = Path(__file__).resolve().parent.parent
DOCKER_UP = REPO / "devdevice" / "docker-up"
DOCKER_DOWN = REPO / "devdevice" / "docker-down"
MAKE_TEST_IMAGE = REPO / "devdevice" / "make-test-image"

IMAGE = "homei-test/busybox:1"
DEFAULT_TIMEOUT = 60.0
# Environment that would make a docker client talk to another engine or pin its API version.
CLIENT_OVERRIDES = ("DOCKER_CONTEXT", "DOCKER_API_VERSION", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


class DockerEngine:
    """The development device's Docker engine under one directory (see devdevice/docker-up)."""

    def __init__(self, directory: str | os.PathLike[str], *, timeout: float = DEFAULT_TIMEOUT):
        self.dir = Path(directory).resolve()
        self.timeout = timeout
        self._images: dict[str, str] = {}

    # --- where things are ---
    @property
    def host(self) -> str:
        """The engine's address for DOCKER_HOST, e.g. `unix:///.../docker.sock`."""
        try:
            return (self.dir / "docker-host").read_text().strip()
        except FileNotFoundError:
            raise DockerEnvError(f"no engine under {self.dir}: call up() first") from None

    @property
    def socket_path(self) -> Path:
        """The engine's unix socket (what aiodocker's `url` or DOCKER_HOST point at)."""
        return Path(self.host.removeprefix("unix://"))

    @property
    def log_path(self) -> Path:
        return self.dir / "dockerd.log"

    @property
    def data_root(self) -> Path:
        return self.dir / "data"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for clients of this engine: DOCKER_HOST set, nothing overriding it."""
        env = {k: v for k, v in os.environ.items() if k not in CLIENT_OVERRIDES}
        env["DOCKER_HOST"] = self.host
        env.update(extra)
        return env

    # --- lifecycle ---
    def up(self) -> DockerEngine:
        """Start the engine unless it runs; returns once its API answers."""
        self._script(DOCKER_UP)
        return self

    def down(self) -> None:
        """Stop the engine and clear what it leaves (mounts, bridges); its data root stays."""
        self._script(DOCKER_DOWN)

    def start_engine(self) -> None:
        """Docker (re)started: the same data root, so images and containers are back, the
        containers per their restart policy. Returns once the API answers."""
        self.up()

    def stop_engine(self) -> None:
        """Docker stopped: dockerd stops its containers and exits; the API no longer answers
        (the socket is gone). Raises if the engine does not run."""
        if not self.ping():
            raise DockerEnvError(f"the engine under {self.dir} does not run\n{self.log_tail()}")
        socket_path = self.socket_path
        self._script(DOCKER_DOWN)
        if engine_ping(socket_path):
            raise DockerEnvError(f"{socket_path} still answers after docker-down")

    def kill_engine(self) -> None:
        """Docker crashed: SIGKILL dockerd (its containerd dies with it, containers keep
        running as orphans until `start_engine()` or `down()` clears them)."""
        pid = self.pid()
        if pid is None:
            raise DockerEnvError(f"no dockerd runs under {self.dir}")
        os.kill(pid, signal.SIGKILL)
        self._wait(lambda: not is_alive(pid), f"dockerd (pid {pid}) to die")

    def pid(self) -> int | None:
        """The pid of this engine's running dockerd, or None."""
        try:
            pid = int((self.dir / "dockerd.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if is_alive(pid) else None

    def ping(self) -> bool:
        """Whether the API answers `GET /_ping` right now."""
        try:
            socket_path = self.socket_path
        except DockerEnvError:
            return False
        return engine_ping(socket_path)

    # --- the Engine API ---
    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> ApiResponse:
        """One Engine API request over the socket (unversioned path: the engine's own version),
        e.g. `api("GET", "/containers/json", query={"all": 1})`. Dict and list values in `query`
        are sent as JSON (as `filters` wants)."""
        return engine_request(self.socket_path, method, path, body, query, timeout or self.timeout)

    def version(self) -> dict[str, Any]:
        """`GET /version`: Version, ApiVersion, MinAPIVersion, Os, Arch, ..."""
        response = self.api("GET", "/version")
        if response.status != 200:
            raise DockerEnvError(f"GET /version: {response.status} {response.body}")
        return response.body  # type: ignore[no-any-return]

    @property
    def api_version(self) -> str:
        """The highest API version the engine speaks, e.g. "1.41"."""
        return str(self.version()["ApiVersion"])

    def containers(self, label: str | None = None, *, all: bool = True) -> list[dict[str, Any]]:
        """`GET /containers/json` (all, stopped ones too, unless `all=False`), optionally only
        those with `label` ("key" or "key=value")."""
        query: dict[str, Any] = {"all": int(all)}
        if label is not None:
            query["filters"] = {"label": [label]}
        response = self.api("GET", "/containers/json", query=query)
        if response.status != 200:
            raise DockerEnvError(f"GET /containers/json: {response.status} {response.body}")
        return response.body  # type: ignore[no-any-return]

    def inspect(self, container: str) -> dict[str, Any]:
        """`GET /containers/{id}/json`."""
        response = self.api("GET", f"/containers/{urllib.parse.quote(container)}/json")
        if response.status != 200:
            raise DockerEnvError(f"inspect {container}: {response.status} {response.body}")
        return response.body  # type: ignore[no-any-return]

    def image_id(self, name: str) -> str | None:
        """The ID of image `name` in the engine, or None."""
        response = self.api("GET", f"/images/{urllib.parse.quote(name, safe='/:')}/json")
        if response.status == 404:
            return None
        if response.status != 200:
            raise DockerEnvError(f"inspect image {name}: {response.status} {response.body}")
        return str(response.body["Id"])

    def remove_containers(self, label: str) -> None:
        """Force-remove every container with `label` (and its anonymous volumes)."""
        for container in self.containers(label):
            self.api("DELETE", f"/containers/{container['Id']}", query={"force": 1, "v": 1})

    # --- images ---
    def make_image(self, name: str = IMAGE, *, force: bool = False) -> str:
        """Make the busybox test image `name` in this engine unless it has it (see
        devdevice/make-test-image); returns its ID. Remembered per engine."""
        cached = self._images.get(name)
        if not force and cached is not None and self.image_id(name) == cached:
            return cached
        args = ["--force"] if force else []
        result = self._run(
            [str(MAKE_TEST_IMAGE), *args, name, self.host], what=f"make-test-image {name}"
        )
        image = result.stdout.strip().splitlines()[-1]
        self._images[name] = image
        return image

    def save_image(self, name: str, path: str | os.PathLike[str]) -> Path:
        """Write image `name` as `docker save` does (the tarball `docker load` and
        `POST /images/load` take) to `path`."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.run("save", "--output", str(target), name)
        return target

    # --- the docker CLI ---
    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the docker client against this engine, e.g. `run("logs", name)`; `check`:
        raise DockerEnvError on a non-zero exit."""
        return self._run(
            [docker_cli(), *args],
            what=f"docker {' '.join(args)}",
            check=check,
            timeout=timeout,
            env=self.env(),
            input=input,
        )

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of dockerd's log, without gRPC's connection chatter."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        kept = [line for line in text.splitlines() if "module=grpc" not in line]
        return f"--- tail of {self.log_path}\n" + "\n".join(kept[-lines:])

    # --- helpers ---
    def _script(self, script: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in CLIENT_OVERRIDES}
        env["HOMEI_DEV_DOCKER_TIMEOUT"] = str(int(self.timeout))
        self._run(
            [str(script), str(self.dir)], what=script.name, timeout=self.timeout + 45, env=env
        )

    def _run(
        self,
        command: list[str],
        *,
        what: str,
        check: bool = True,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return run_command(
            command,
            what=what,
            timeout=timeout or self.timeout,
            error=DockerEnvError,
            log_tail=self.log_tail,
            check=check,
            env=env,
            input=input,
        )

    def _wait(self, condition: Callable[[], bool], what: str) -> None:
        wait_for(
            condition,
            self.timeout,
            lambda: DockerEnvError(f"waited {self.timeout}s for {what}\n{self.log_tail()}"),
        )

    def __enter__(self) -> DockerEngine:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()
