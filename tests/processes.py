"""Small process helpers the test harnesses share."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def is_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped by its new parent, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_for(
    condition: Callable[[], bool], timeout: float, on_timeout: Callable[[], Exception]
) -> None:
    """Poll `condition` every 50 ms; raise `on_timeout()` after `timeout` seconds."""
    give_up = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > give_up:
            raise on_timeout()
        time.sleep(0.05)
