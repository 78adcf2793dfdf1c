"""What RAUC reports, as frozen records: an install's progress and the slots."""

from __future__ import annotations

from typing import Any

import msgspec

from homei.dbus.bus import unwrap


class Progress(msgspec.Struct, frozen=True):
    """RAUC's `Progress` property: percentage, message, nesting depth."""

    percentage: int = 0
    message: str = ""
    depth: int = 0


class SlotStatus(msgspec.Struct, frozen=True):
    """One slot as `GetSlotStatus` describes it; `details` keeps every key RAUC sent."""

    name: str
    slot_class: str
    device: str
    type: str
    bootname: str | None
    state: str
    boot_status: str | None
    sha256: str | None
    size: int | None
    installed_timestamp: str | None
    installed_count: int | None
    bundle_version: str | None
    details: dict[str, Any] = msgspec.field(default_factory=dict)

    @classmethod
    def from_dbus(cls, name: str, info: dict[str, Any]) -> SlotStatus:
        """From one `(sa{sv})` entry."""
        info = unwrap(info)

        def get(*keys: str) -> Any:
            for key in keys:
                if key in info:
                    return info[key]
            return None

        return cls(
            name=name,
            slot_class=str(get("class") or name.split(".")[0]),
            device=str(get("device") or ""),
            type=str(get("type") or ""),
            bootname=get("bootname"),
            state=str(get("state") or "inactive"),
            boot_status=get("boot-status"),
            sha256=get("sha256", "installed.sha256"),
            size=get("size", "installed.size"),
            installed_timestamp=get("installed.timestamp"),
            installed_count=get("installed.count"),
            bundle_version=get("bundle.version"),
            details=info,
        )
