"""The arrows point down: core/ imports nothing else of Homei, and the settings import
nothing of Homei but core/ (read from the sources, so a new import cannot slip in)."""

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


@pytest.mark.parametrize("name", ["settings.py", "settings_layers.py"])
def test_settings_import_only_core(name: str):
    allowed = ("homei.core", "homei.settings")
    outside = {m for m in homei_imports(HOMEI / name) if m != "homei" and not m.startswith(allowed)}
    assert outside == set()
