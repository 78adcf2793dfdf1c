"""The service seam holds: the model imports no runtime, a runtime imports only the model, and
the services API reads typed values, not a runtime's own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "homei"
MODEL = {"homei.services.spec", "homei.services.values", "homei.services.instance"}
MODEL |= {"homei.services.policy", "homei.services.runtime"}


def imports(path: Path) -> set[str]:
    """Every module `path` imports (absolute names)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", sorted((PACKAGE / "services").glob("*.py")), ids=str)
def test_the_model_imports_no_runtime_and_no_api(path):
    assert not {m for m in imports(path) if m.startswith(("homei.docker", "homei.api"))}


@pytest.mark.parametrize("path", sorted((PACKAGE / "docker").glob("*.py")), ids=str)
def test_docker_imports_only_the_model_of_services(path):
    assert {m for m in imports(path) if m.startswith("homei.services")} <= MODEL


@pytest.mark.parametrize("name", ["services.py", "service_status.py", "service_models.py"])
def test_the_services_api_reads_no_runtime(name):
    assert not {m for m in imports(PACKAGE / "api" / name) if m.startswith("homei.docker")}
