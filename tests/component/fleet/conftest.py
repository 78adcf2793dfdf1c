"""The fleet tier: a real gooseBit (tests/goosebit_env.py) shared by the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.goosebit_env import GooseBit, GooseBitClient
from tests.rauc_env import rauc_available


@pytest.fixture(scope="session")
def goosebit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GooseBit]:
    """One gooseBit on loopback for the session (SQLite in a temp folder)."""
    server = GooseBit(tmp_path_factory.mktemp("goosebit")).start()
    yield server
    server.stop()


@pytest.fixture
def goosebit_client(goosebit: GooseBit) -> GooseBitClient:
    """A client of gooseBit's management API and DDI."""
    return GooseBitClient(goosebit.url)


@pytest.fixture
def device_id(request: pytest.FixtureRequest) -> str:
    """A controller id of its own per test, so the tests share one server."""
    return "homei-" + request.node.name.replace("_", "-")[:60]


needs_rauc = pytest.mark.skipif(not rauc_available(), reason="needs Debian's rauc")


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's bundles and their signing CA are made."""
    return tmp_path_factory.mktemp("fleet-bundles")
