"""The arrows point down: core/ imports nothing else of Homei, the settings import nothing of
Homei but core/, and the service seam holds (read from the sources, so a new import cannot
slip in)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HOMEI = Path(__file__).resolve().parents[2] / "homei"


def homei_imports(path: Path) -> set[str]:
    """The `homei.*` modules a file imports, at any depth (lazy imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(n for n in names if n == "homei" or n.startswith("homei."))
    return found


@pytest.mark.parametrize("path", sorted((HOMEI / "core").glob("*.py")), ids=lambda p: p.name)
def test_core_imports_nothing_else_of_homei(path: Path):
    assert {m for m in homei_imports(path) if not m.startswith("homei.core")} == set()


@pytest.mark.parametrize("name", ["settings.py", "settings_sections.py", "settings_layers.py"])
def test_settings_import_only_core(name: str):
    allowed = ("homei.core", "homei.settings")
    outside = {m for m in homei_imports(HOMEI / name) if m != "homei" and not m.startswith(allowed)}
    assert outside == set()


# The service seam: the model imports no runtime, a runtime imports only the model, and the
# services API reads typed values, not a runtime's own.
SERVICE_MODEL = {
    "homei.services.spec",
    "homei.services.values",
    "homei.services.instance",
    "homei.services.policy",
    "homei.services.runtime",
}


@pytest.mark.parametrize("path", sorted((HOMEI / "services").glob("*.py")), ids=lambda p: p.name)
def test_the_service_model_imports_no_runtime_and_no_api(path: Path):
    assert {m for m in homei_imports(path) if m.startswith(("homei.docker", "homei.api"))} == set()


@pytest.mark.parametrize("path", sorted((HOMEI / "docker").glob("*.py")), ids=lambda p: p.name)
def test_docker_imports_only_the_service_model(path: Path):
    assert {m for m in homei_imports(path) if m.startswith("homei.services")} <= SERVICE_MODEL


@pytest.mark.parametrize("name", ["services.py", "service_status.py", "service_models.py"])
def test_the_services_api_reads_no_runtime(name: str):
    imported = homei_imports(HOMEI / "api" / name)
    assert {m for m in imported if m.startswith("homei.docker")} == set()
