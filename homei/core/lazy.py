"""Importing, on first use, what an idle daemon does not need."""

from __future__ import annotations

import asyncio
import importlib
from types import ModuleType


async def import_module(name: str) -> ModuleType:
    """Import `name` on a worker thread: a first import reads and runs files, which would
    stall the event loop; later calls find it in `sys.modules` at once."""
    return await asyncio.to_thread(importlib.import_module, name)
