"""gooseBit, a hawkBit DDI server (PyPI `goosebit`), for the fleet tests.

It lives in its own virtualenv (its dependencies never enter Homei's), made once by pip and
kept under the test cache folder (`$HOMEI_TEST_CACHE`, else `~/.cache/homei-tests`) keyed by
its version. Each session starts it on loopback with SQLite in a folder of its own: a
`pyproject.toml` naming gooseBit's migrations for aerich, `aerich upgrade`, then uvicorn
serving `goosebit.app`; it is ready once `GET /DEFAULT/controller/v1/<id>` answers.

    server = GooseBit(tmp / "goosebit").start()
    client = GooseBitClient(server.url)
    software = await client.upload(bundle.path)
    await client.assign("device-1", software)
    server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

from tests.processes import run_command, wait_for
from tests.ssh_env import free_port

VERSION = "0.2.12"
TENANT = "DEFAULT"
ADMIN = ("admin@homei.test", "goose-admin-password")
READY_PROBE = "homei-ready-probe"
POLL_TIME = "00:00:01"  # what the server asks devices to wait between polls
INSTALL_TIMEOUT = 300.0
START_TIMEOUT = 60.0


class GooseBitError(RuntimeError):
    """gooseBit could not be installed, started or asked."""


def cache_dir() -> Path:
    """Where the tests keep what they download once (`$HOMEI_TEST_CACHE`)."""
    configured = os.environ.get("HOMEI_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "homei-tests"


def ensure_venv(version: str = VERSION) -> Path:
    """gooseBit's own virtualenv, made by pip on first use (under a lock, so concurrent
    sessions build it once; a half-made one is never used: it is renamed in when done)."""
    root = cache_dir()
    venv = root / f"goosebit-{version}"
    if (venv / "bin" / "python").exists():
        return venv
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"goosebit-{version}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / "bin" / "python").exists():
            return venv
        building = Path(tempfile.mkdtemp(prefix=f"goosebit-{version}.", dir=root))
        try:
            run_command(
                [sys.executable, "-m", "venv", str(building)],
                what="python -m venv",
                timeout=120,
                error=GooseBitError,
                log_tail=str,
            )
            # Only `python -m` is used later: the scripts' shebangs would name `building`.
            run_command(
                [str(building / "bin" / "python"), "-m", "pip", "install", "-q",
                 "--disable-pip-version-check", f"goosebit=={version}"],
                what=f"pip install goosebit=={version}",
                timeout=INSTALL_TIMEOUT,
                error=GooseBitError,
                log_tail=str,
            )  # fmt: skip
            building.rename(venv)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return venv


def _package_dir(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages/goosebit"))
    if not found:
        raise GooseBitError(f"no goosebit package in {venv}")
    return found[0]


class GooseBit:
    """One gooseBit server on loopback, its database and artefacts under `folder`."""

    def __init__(self, folder: Path, *, port: int | None = None, poll_time: str = POLL_TIME):
        self.folder = folder.resolve()
        self.port = port or free_port()
        self.poll_time = poll_time
        self.log = self.folder / "goosebit.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.venv: Path | None = None

    @property
    def url(self) -> str:
        """The server's base URL (the DDI under `/{tenant}/controller/v1`)."""
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("GOOSEBIT_")},
            "GOOSEBIT_DB_URI": f"sqlite:///{self.folder / 'db.sqlite3'}",
            "GOOSEBIT_ARTIFACTS_DIR": str(self.folder / "artifacts"),
            "GOOSEBIT_POLL_TIME": self.poll_time,
            "GOOSEBIT_TENANT": TENANT,
            # A fixed key: tokens issued before a restart stay valid after it.
            "GOOSEBIT_SECRET_KEY": "aG9tZWktdGVzdC1zZWNyZXQta2V5LTMyYnl0ZXMhISE",
        }

    def log_tail(self, lines: int = 30) -> str:
        """The last lines gooseBit wrote."""
        with contextlib.suppress(OSError):
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
            return f"--- tail of {self.log}\n" + "\n".join(text)
        return ""

    def start(self) -> GooseBit:
        """Install if needed, create the database if missing, serve; returns once it polls."""
        self.venv = ensure_venv()
        python = str(self.venv / "bin" / "python")
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.folder / "db.sqlite3").exists():
            migrations = _package_dir(self.venv) / "db" / "migrations"
            (self.folder / "pyproject.toml").write_text(
                "[tool.aerich]\n"
                'tortoise_orm = "goosebit.db.config.TORTOISE_CONF"\n'
                f'location = "{migrations}"\n'
                'src_folder = "."\n'
            )
            self._run([python, "-m", "aerich", "upgrade"], what="aerich upgrade")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [python, "-m", "uvicorn", "goosebit:app", "--host", "127.0.0.1",
                 "--port", str(self.port), "--log-level", "warning"],
                cwd=self.folder,
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        wait_for(
            self._ready,
            START_TIMEOUT,
            lambda: GooseBitError(f"gooseBit did not answer polls\n{self.log_tail()}"),
        )
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise GooseBitError(f"gooseBit exited ({self.process.returncode})\n{self.log_tail()}")
        url = f"{self.url}/{TENANT}/controller/v1/{READY_PROBE}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stored_artefact(self, filename: str) -> Path:
        """Where gooseBit keeps an uploaded file (`artifacts/<sha1>/<filename>`), to spoil it
        behind the server's back: the checksum it announces then no longer matches."""
        found = sorted((self.folder / "artifacts").glob(f"*/{filename}"))
        if len(found) != 1:
            raise GooseBitError(f"expected one stored {filename}, found {found}")
        return found[0]

    def stop(self) -> None:
        """Stop the server (database and artefacts stay, so `start` brings it back)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def _run(self, command: list[str], *, what: str) -> None:
        # aerich reads its settings from the pyproject.toml in the working folder.
        try:
            result = subprocess.run(
                command,
                cwd=self.folder,
                env=self._env(),
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GooseBitError(f"{what}: no answer within {START_TIMEOUT}s") from None
        if result.returncode != 0:
            output = result.stdout + result.stderr
            raise GooseBitError(f"{what} failed ({result.returncode}):\n{output}")


class GooseBitClient:
    """gooseBit's management API (`/api/v1`, a bearer token from `/setup`) and its DDI."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._token: str | None = None

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if path.startswith("/api/"):
            headers["Authorization"] = f"Bearer {await self.token()}"
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.url + path, headers=headers, **kwargs) as response,
        ):
            text = await response.text()
            if response.status >= 400:
                raise GooseBitError(f"{method} {path}: {response.status} {text}")
            return await response.json() if text else None

    async def token(self) -> str:
        """The admin's bearer token: the first call sets the admin up (gooseBit's `/setup`,
        which makes the user if missing), later ones log in."""
        if self._token is None:
            form = {"username": ADMIN[0], "password": ADMIN[1]}
            answer = await self._request("POST", "/setup", data=form)
            self._token = str(answer["access_token"])
        return self._token

    async def upload(self, bundle: Path) -> str:
        """Upload a RAUC bundle (gooseBit reads its manifest: version and compatible);
        returns the software id."""

        def read() -> bytes:
            return bundle.read_bytes()

        form = aiohttp.FormData()
        form.add_field("file", await asyncio.to_thread(read), filename=bundle.name)
        answer = await self._request("PUT", "/api/v1/software", data=form)
        return str(answer["id"])

    async def upload_url(self, url: str) -> str:
        """Register an artefact served elsewhere (gooseBit reads its header from `url`, and the
        deployment links to `url` itself); returns the software id."""
        form = aiohttp.FormData()
        form.add_field("url", url)
        answer = await self._request("PUT", "/api/v1/software", data=form)
        return str(answer["id"])

    async def assign(self, device: str, software: str, *, force: bool = False) -> None:
        """Assign `software` to `device` (made if unknown); `force` redeploys it even if the
        device reports that version or failed before."""
        body: dict[str, Any] = {"devices": [device], "software": software}
        if force:
            body["force_update"] = True
        await self._request("PUT", "/api/v1/devices", json=body)

    async def device(self, device: str) -> dict[str, Any]:
        """The device as gooseBit sees it: `last_state` (registered, running, finished,
        error), `sw_version`, `progress`, `hardware`, `assigned_software`."""
        # The list, not `/devices/{id}`: that one answers 500 once software is assigned.
        devices = (await self._request("GET", "/api/v1/devices"))["devices"]
        for found in devices:
            if found["id"] == device:
                return dict(found)
        raise GooseBitError(f"gooseBit knows no device {device!r}")

    async def device_log(self, device: str) -> dict[str, Any]:
        """The details of the device's last feedback (`log`) and its `progress`."""
        return dict(await self._request("GET", f"/api/v1/devices/{device}/log"))

    async def software(self) -> list[dict[str, Any]]:
        """Every uploaded software."""
        return list((await self._request("GET", "/api/v1/software"))["software"])

    # --- the DDI, as a device speaks it (for the environment's own checks) ---
    def ddi(self, device: str) -> str:
        """The device's DDI base URL."""
        return f"{self.url}/{TENANT}/controller/v1/{device}"

    async def register(self, device: str, compatible: str, **data: str) -> None:
        """Send config data as a device does (hw_boardname = the bundle's `compatible`, which
        gooseBit matches software against)."""
        payload = {"mode": "merge", "data": {"hw_boardname": compatible, **data}}
        path = f"/{TENANT}/controller/v1/{device}/configData"
        await self._request("PUT", path, json=payload)

    async def poll(self, device: str) -> dict[str, Any]:
        """One DDI poll."""
        return dict(await self._request("GET", f"/{TENANT}/controller/v1/{device}"))

    async def feedback(self, device: str, action: str, finished: str, details: list[str]) -> None:
        """A device's closing feedback on `action` (`success` or `failure`), as the DDI has it."""
        path = f"/{TENANT}/controller/v1/{device}/deploymentBase/{action}/feedback"
        status = {"execution": "closed", "result": {"finished": finished}, "details": details}
        await self._request("POST", path, json={"id": action, "status": status})

    async def get(self, href: str) -> Any:
        """GET a link the server gave (a deploymentBase)."""
        return await self._request("GET", href.removeprefix(self.url))
