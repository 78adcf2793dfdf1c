"""Importing, on first use, what an idle daemon does not need."""

from __future__ import annotations

import asyncio
import importlib
import sys
import threading
from types import ModuleType

# One first import at a time: `load_without` hides a module from every thread while it runs.
_IMPORTING = threading.RLock()


def load(name: str) -> ModuleType:
    """Import `name` (blocking: call it from a worker thread, or via `import_module`)."""
    with _IMPORTING:
        return importlib.import_module(name)


def load_without(name: str, optional: str) -> ModuleType:
    """Import `name` as if its optional dependency `optional` were not installed, unless
    something has imported that already."""
    with _IMPORTING:
        if name in sys.modules or optional in sys.modules:
            return importlib.import_module(name)
        sys.modules[optional] = None  # type: ignore[assignment]  # `import` now fails for it
        try:
            return importlib.import_module(name)
        finally:
            del sys.modules[optional]


async def import_module(name: str) -> ModuleType:
    """Import `name` on a worker thread: a first import reads and runs files, which would
    stall the event loop; later calls find it in `sys.modules` at once."""
    return await asyncio.to_thread(load, name)
