"""Request and response models of `/api/v1/update/*`, and their conversions."""

from __future__ import annotations

from typing import Annotated

import msgspec

from homei.dbus.rauc_status import SlotStatus
from homei.update.bundles import StoredBundle
from homei.update.history import HistoryEntry

SlotName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
BUNDLE_NAME_PARAM = {"type": "string", "pattern": r"^[A-Za-z0-9._-]+\.raucb$"}


class Installed(msgspec.Struct):
    timestamp: str | None
    count: int | None


class SlotOut(msgspec.Struct):
    name: str
    slot_class: str = msgspec.field(name="class")
    device: str
    type: str
    bootname: str | None
    state: str
    boot_status: str | None
    sha256: str | None
    size: int | None
    bundle_version: str | None
    installed: Installed


class ProgressOut(msgspec.Struct):
    percentage: int
    message: str
    depth: int


class HistoryOut(msgspec.Struct):
    id: int
    taskId: str | None
    bundle: str
    compatible: str | None
    from_version: str | None
    to_version: str | None
    from_slot: str | None
    to_slot: str | None
    result: str
    message: str
    started: str
    completed: str | None
    verified: str | None


class HistoryList(msgspec.Struct):
    history: list[HistoryOut]


class UpdateStatusOut(msgspec.Struct):
    """Seed 001's status (compatible, booted, slots) plus RAUC's operation and Homei's history."""

    compatible: str
    variant: str
    booted: str | None
    bootSlot: str
    primary: str | None
    operation: str
    progress: ProgressOut
    lastError: str
    version: str
    slots: list[SlotOut]
    history: list[HistoryOut]


class InstallRequest(msgspec.Struct):
    bundle_path: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=4096,
            description=(
                "A bundle inside the updates directory: a name from /update/bundles or a path"
            ),
        ),
    ]


class InstallStarted(msgspec.Struct):
    status: str
    message: str
    taskId: str
    bundle: str


class MarkRequest(msgspec.Struct):
    slot: SlotName = "booted"


class MarkResult(msgspec.Struct):
    status: str
    message: str
    slot: str
    state: str


class BundleOut(msgspec.Struct):
    name: str
    path: str
    size: int
    modified: str
    sha256: str | None


class BundleList(msgspec.Struct):
    bundles: list[BundleOut]
    directory: str


class GateOut(msgspec.Struct):
    state: Annotated[
        str,
        msgspec.Meta(
            description=(
                "checking, then good, bad, rolled_back, none (no install waited for this boot) "
                "or error"
            )
        ),
    ]
    bootSlot: str | None


# A bare file name: no folder (`/`, `\`), never `.` or `..`, nothing that needs quoting.
BUNDLE_FILENAME = r"^[A-Za-z0-9._+-]*[A-Za-z0-9_+-][A-Za-z0-9._+-]*$"


class UploadQuery(msgspec.Struct):
    filename: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=BUNDLE_FILENAME)] | None
    ) = None


def slot_out(slot: SlotStatus) -> SlotOut:
    return SlotOut(
        slot.name,
        slot.slot_class,
        slot.device,
        slot.type,
        slot.bootname,
        slot.state,
        slot.boot_status,
        slot.sha256,
        slot.size,
        slot.bundle_version,
        Installed(slot.installed_timestamp, slot.installed_count),
    )


def history_out(entry: HistoryEntry) -> HistoryOut:
    return HistoryOut(
        entry.id,
        entry.task_id,
        entry.bundle,
        entry.compatible,
        entry.from_version,
        entry.to_version,
        entry.from_slot,
        entry.to_slot,
        str(entry.result),
        entry.message,
        entry.started,
        entry.completed,
        entry.verified,
    )


def bundle_out(bundle: StoredBundle) -> BundleOut:
    return BundleOut(bundle.name, str(bundle.path), bundle.size, bundle.modified, bundle.sha256)
