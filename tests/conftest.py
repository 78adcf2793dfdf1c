"""Fixtures shared by every tier: an isolated Homei on an ephemeral port, and a guard
that fails any test blocking the event loop from Homei's code."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Imported up front, on the main thread. The daemon imports these on a worker thread the
# first time it needs them, and CPython 3.11 before 3.11.9 can fail to compile two modules
# at once on two threads ("AST constructor recursion depth mismatch", gh-106905); with
# PYTHONDONTWRITEBYTECODE set, as on this project's machines, every import compiles.
import aiodocker  # noqa: F401
import dbus_fast  # noqa: F401
import jwt  # noqa: F401
import psutil  # noqa: F401
import pytest
from aiohttp.test_utils import TestClient
from blockbuster import BlockBuster, blockbuster_ctx

from homei.app import OPTIONAL_PARTS, Components, build
from homei.settings import Settings
from homei.settings_layers import load_settings

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"

# Generous limits, so only the tests about rate limits meet them.
RATE_LIMITS_OPEN = """
[rate_limits]
anonymous = 100000
authenticated = 100000
admin = 100000
health = 100000
updates = 100000
"""
# No RAUC for the tests that do not need one.
NO_DOCKER = """
[docker]
url = "unix:///nonexistent/homei-test-docker.sock"
required = false
"""
OPEN_LIMITS = (
    RATE_LIMITS_OPEN
    + NO_DOCKER
    + """
[update]
dbus_address = "unix:path=/nonexistent/homei-test-bus"
"""
)


@pytest.fixture(autouse=True)
def blockbuster() -> Iterator[BlockBuster]:
    """Fail a test whose Homei code blocks the event loop (file or socket I/O, sleeps)."""
    with blockbuster_ctx("homei") as guard:
        yield guard


def write_settings(directory: Path, text: str) -> Path:
    """A settings file for one test."""
    path = directory / "homei.toml"
    path.write_text(text)
    return path


def make_settings(tmp_path: Path, toml: str = OPEN_LIMITS, **environ: str) -> Settings:
    """Settings isolated under `tmp_path`, never reading the machine's own files."""
    config = write_settings(tmp_path, toml)
    # No reverse proxy unless a test brings its own Caddy (HOMEI_PROXY__ENABLED=true).
    env = {"HOMEI_MODE": "development", "HOMEI_PROXY__ENABLED": "false", **environ}
    return load_settings(
        config=config, data_dir=tmp_path / "data", listen="127.0.0.1:8080", environ=env
    )


@dataclass
class Homei:
    """A running Homei app and a client speaking to it over real HTTP."""

    client: TestClient
    components: Components
    settings: Settings

    @property
    def admin_password(self) -> str:
        return self.settings.initial_password_file.read_text().strip()

    async def login(self, username: str = "admin", password: str | None = None) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/auth/login",
            json={"username": username, "password": password or self.admin_password},
        )
        assert response.status == 200, await response.text()
        return await response.json()

    async def token(self, username: str = "admin", password: str | None = None) -> str:
        return str((await self.login(username, password))["access_token"])

    async def auth(self, username: str = "admin", password: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(username, password)}"}

    async def add_user(
        self, username: str, role: str, password: str = "correct-horse"
    ) -> dict[str, str]:
        response = await self.client.post(
            "/api/v1/users",
            headers=await self.auth(),
            json={"username": username, "password": password, "role": role},
        )
        assert response.status == 201, await response.text()
        return await self.auth(username, password)


HomeiFactory = Callable[..., Any]


@pytest.fixture
async def make_homei(tmp_path: Path, aiohttp_client: Any) -> HomeiFactory:
    """Start a Homei with the given settings text; several per test if needed."""
    started: list[Homei] = []

    async def start(
        toml: str = OPEN_LIMITS,
        name: str = "homei",
        parts: frozenset[str] = OPTIONAL_PARTS,
        **environ: str,
    ) -> Homei:
        directory = tmp_path / name
        directory.mkdir(exist_ok=True)
        settings = await asyncio.to_thread(make_settings, directory, toml, **environ)
        app, components = await build(settings, parts=parts)
        client = await aiohttp_client(app)
        homei = Homei(client, components, settings)
        started.append(homei)
        return homei

    return start


@pytest.fixture
async def homei(make_homei: HomeiFactory) -> Homei:
    """One Homei with open rate limits."""
    return await make_homei()


def homei_command() -> list[str]:
    """The installed `homei` entry point of the checkout's virtual environment."""
    return [str(VENV_BIN / "homei")]


def clean_environ(**extra: str) -> dict[str, str]:
    """The environment for a `homei` subprocess: no HOMEI_* leaking in from outside."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("HOMEI_", "NOTIFY_", "WATCHDOG_"))
    }
    env.update({"HOMEI_MODE": "development", **extra})
    return env


# --- each tier's duration, printed at the end of a run ------------------------------------
# A tier is a folder of tests with daemons of its own: tests/unit, tests/qemu, and each folder
# under tests/component (the modules directly in it are the "component" tier).
_TIER_SECONDS: dict[str, float] = {}


def _tier(nodeid: str) -> str:
    parts = nodeid.split("::", 1)[0].split("/")
    if len(parts) > 3 and parts[1] == "component":
        return f"component/{parts[2]}"
    return parts[1] if len(parts) > 2 else parts[0]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add each phase's time (set-up, call, tear-down) to its tier."""
    _TIER_SECONDS[_tier(report.nodeid)] = _TIER_SECONDS.get(_tier(report.nodeid), 0.0) + (
        report.duration
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per tier, slowest first."""
    if not _TIER_SECONDS:
        return
    terminalreporter.section("time per tier")
    for tier, seconds in sorted(_TIER_SECONDS.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{tier:<24} {seconds:8.1f} s")
