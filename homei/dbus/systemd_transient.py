"""A command run once as a transient systemd service and waited for, as `systemd-run --wait`
does: a oneshot unit whose start job ends when the command has; its exit status is read
before the unit is stopped and forgotten."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from homei.dbus.bus import DBusCallError
from homei.dbus.systemd import JobFailed

if TYPE_CHECKING:
    from homei.dbus.systemd import SystemdManager

# A command given by name is looked up in systemd's PATH by env(1), as systemd-run would.
_ENV = "/usr/bin/env"


def _variant(value: bool | int | str | list[str]) -> Any:
    from dbus_fast import Variant

    if isinstance(value, bool):
        return Variant("b", value)
    if isinstance(value, int):
        return Variant("t", value)
    if isinstance(value, str):
        return Variant("s", value)
    return Variant("as", value)


async def run_command(
    manager: SystemdManager,
    unit: str,
    argv: list[str],
    settings: dict[str, bool | int | str | list[str]],
    timeout: float,
) -> int:
    """Run `argv` as the transient service `unit` with the unit `settings` (name -> value),
    killed after `timeout` seconds; its exit status (`JobFailed` when it timed out)."""
    from dbus_fast import Variant

    path, args = (argv[0], argv) if argv[0].startswith("/") else (_ENV, ["env", *argv])
    properties = [
        ("Description", Variant("s", f"Homei: {' '.join(argv)[:200]}")),
        ("Type", Variant("s", "oneshot")),
        # Kept after it exits, so its status can be read before it is collected.
        ("RemainAfterExit", Variant("b", True)),
        ("ExecStart", Variant("a(sasb)", [[path, args, False]])),
        ("TimeoutStartUSec", Variant("t", int(timeout * 1e6))),
        *((name, _variant(value)) for name, value in settings.items()),
    ]
    try:
        await manager.start_transient(unit, properties, timeout + 5)
    except JobFailed as err:
        if err.result != "failed":  # timed out, or could not start: no status to give
            await _forget(manager, unit)
            raise
    try:
        return (await manager.unit(unit, fresh=True)).exec_main_status
    finally:
        await _forget(manager, unit)


async def _forget(manager: SystemdManager, unit: str) -> None:
    with contextlib.suppress(JobFailed, DBusCallError):
        await manager.stop_unit(unit, 30)
    await manager.reset_failed(unit)
