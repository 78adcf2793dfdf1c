"""Builds the fleet client: the action store, the deployer and the poller, and what the
device tells the server about itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import homei
from homei.core.events import EventBus
from homei.core.health import Health
from homei.core.store import Store
from homei.core.tasks import TaskManager
from homei.dbus.bus import DBusCallError
from homei.dbus.rauc import RaucUnavailable
from homei.fleet.actions import ActionStore
from homei.fleet.client import FleetClient
from homei.fleet.deploy import Deployer
from homei.settings import Settings
from homei.settings_sections import FleetSettings
from homei.update.manager import UpdateManager
from homei.update.status import booted_slot

MACHINE_ID = Path("/etc/machine-id")
_MODEL_FILES = (
    Path("/sys/firmware/devicetree/base/model"),
    Path("/sys/class/dmi/id/product_name"),
)
_REVISION_FILES = (Path("/sys/class/dmi/id/product_version"),)


def _first_line(paths: tuple[Path, ...]) -> str:
    for path in paths:
        try:
            text = path.read_text(errors="replace").strip("\x00 \n")
        except OSError:
            continue
        if text:
            return text.splitlines()[0]
    return ""


def _os_version() -> str:
    try:
        lines = Path("/etc/os-release").read_text().splitlines()
    except OSError:
        return ""
    fields = dict(line.split("=", 1) for line in lines if "=" in line)
    return fields.get("PRETTY_NAME", fields.get("VERSION_ID", "")).strip('"')


def _device_facts() -> dict[str, str]:
    return {
        "hw_model": _first_line(_MODEL_FILES) or "default",
        "hw_revision": _first_line(_REVISION_FILES) or "default",
        "os_version": _os_version(),
    }


def build_fleet(
    settings: Settings,
    store: Store,
    updates: UpdateManager,
    tasks: TaskManager,
    events: EventBus,
    health: Health,
    reboot: Callable[[], Awaitable[None]],
) -> FleetClient:
    """The fleet client, registered as the non-critical `fleet` dependency."""

    def fleet_settings() -> FleetSettings:
        return settings.fleet

    async def controller_id() -> str:
        if settings.fleet.controller_id:
            return settings.fleet.controller_id
        machine_id = await asyncio.to_thread(_first_line, (MACHINE_ID,))
        return machine_id or "homei"

    async def device_data() -> tuple[dict[str, str], bool]:
        data = await asyncio.to_thread(_device_facts)
        data["homei_version"] = homei.__version__
        if not updates.is_available:
            return data, False  # sent again once RAUC answers
        rauc = updates.rauc
        data["compatible"] = rauc.compatible
        # gooseBit (like swupdate's servers) matches software by `hw_boardname`, and a RAUC
        # bundle's model is its `compatible`: without it every offer is refused.
        data["hw_boardname"] = rauc.compatible
        # What the booted slot runs, as servers track it (gooseBit keeps `sw_version`, and
        # offers the assigned software again while it differs).
        with contextlib.suppress(RaucUnavailable, DBusCallError):
            booted = booted_slot(await rauc.slot_status(), rauc.boot_slot)
            if booted is not None and booted.bundle_version:
                data["sw_version"] = booted.bundle_version
        data["boot_slot"] = rauc.boot_slot
        return data, True

    actions = ActionStore(store)
    deployer = Deployer(fleet_settings, actions, updates, tasks, events, reboot)
    client = FleetClient(fleet_settings, controller_id, actions, deployer, events, device_data)
    health.register("fleet", client.report, critical=False)
    return client
