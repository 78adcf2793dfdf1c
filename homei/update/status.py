"""What `/update/status` reports, and the errors of an update."""

from __future__ import annotations

import msgspec

from homei.core.errors import HomeiError
from homei.dbus.rauc_status import Progress, SlotStatus
from homei.update.history import HistoryEntry


class UpdateError(HomeiError):
    code = "UPDATE_ERROR"
    status = 503


class UpdateRefused(HomeiError):
    code = "UPDATE_ERROR"
    status = 400


class UpdateStatus(msgspec.Struct, frozen=True):
    """Everything `/update/status` reports."""

    compatible: str
    variant: str
    booted: str | None
    boot_slot: str
    primary: str | None
    operation: str
    progress: Progress
    last_error: str
    slots: list[SlotStatus]
    history: list[HistoryEntry]


def booted_slot(slots: list[SlotStatus], boot_slot: str) -> SlotStatus | None:
    """The slot the device runs from."""
    for slot in slots:
        if slot.state == "booted" or (slot.bootname and slot.bootname == boot_slot):
            return slot
    return None


def other_slot(slots: list[SlotStatus], booted: SlotStatus | None) -> SlotStatus | None:
    """The booted slot's peer: where the next update goes."""
    for slot in slots:
        if (
            slot.bootname
            and booted is not None
            and slot.slot_class == booted.slot_class
            and slot.name != booted.name
        ):
            return slot
    return None
