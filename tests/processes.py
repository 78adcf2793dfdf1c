"""Small process helpers the test harnesses share."""

from __future__ import annotations

import subprocess
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


def run_command(
    command: list[str],
    *,
    what: str,
    timeout: float,
    error: Callable[[str], Exception],
    log_tail: Callable[[], str],
    check: bool = True,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a harness command; on a time-out or (with `check`) a failure, raise `error(text)`
    with its output and the tail of the daemon's log (unless the output already has it)."""
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            input=input,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise error(f"{what}: no answer within {err.timeout}s\n{log_tail()}") from None
    if check and result.returncode != 0:
        output = result.stdout + result.stderr
        logs = "" if "--- tail of" in output else log_tail()  # the scripts print it themselves
        raise error(f"{what} failed ({result.returncode}):\n{output}\n{logs}")
    return result
