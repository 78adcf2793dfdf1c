"""`/api/v1/alerts`: the alerts, acknowledging them, and their settings."""

from __future__ import annotations

import calendar
import re
from typing import Annotated, Any

import msgspec
from aiohttp import web

from homei.api.middleware import identity_of
from homei.api.routing import endpoint
from homei.core.auth import Permission
from homei.monitor.alert_records import AlertQuery, AlertRecord, AlertState, Level
from homei.monitor.alert_settings import (
    AlertSettings,
    Notifications,
    Rules,
    Thresholds,
    keep_secrets,
)
from homei.monitor.alerts import AlertEngine

ALERT_ID = r"alert-[0-9a-f]{1,32}"
RFC3339 = (
    r"^([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):([0-5][0-9])"
    r":([0-5][0-9])(\.[0-9]{1,9})?(Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
_RFC3339 = re.compile(RFC3339)
# No `{m,n}` in the route's regex: the OpenAPI path template would read its braces.
ALERT = "{alert_id:alert-[0-9a-f]+}"


class AlertsQuery(msgspec.Struct, forbid_unknown_fields=True):
    level: Level | None = None
    state: AlertState | None = None
    since: Annotated[str, msgspec.Meta(pattern=RFC3339, description="RFC 3339 time")] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    offset: Annotated[int, msgspec.Meta(ge=0, le=2**31)] = 0


class AlertOut(msgspec.Struct):
    """002's alert (id, timestamp, level, message, source, details), with its state."""

    id: str
    timestamp: str
    level: Level
    message: str
    source: str
    details: dict[str, Any]
    rule: str
    subject: str
    state: AlertState
    firedAt: str
    resolvedAt: str | None
    acknowledgedAt: str | None
    acknowledgedBy: str | None


class AlertList(msgspec.Struct):
    alerts: list[AlertOut]
    total: int
    hasMore: bool


class SettingsUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """New settings; a part left out keeps its current value."""

    thresholds: Thresholds | None = None
    notifications: Notifications | None = None
    rules: Rules | None = None


def epoch_of(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time (as its pattern checked it); a day past
    its month's end counts on into the next."""
    match = _RFC3339.match(text)
    assert match is not None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if year < 1971:  # before any alert (and before what the calendar functions take)
        return 0.0
    fraction, zone = match.group(7), match.group(8)
    offset = (
        0
        if zone == "Z"
        else (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    )
    moment = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    return moment - offset + (float(fraction) if fraction else 0.0)


def _out(alert: AlertRecord) -> AlertOut:
    return msgspec.convert(alert.as_wire(), AlertOut)


class AlertsApi:
    """The device's alerts."""

    def __init__(self, engine: AlertEngine) -> None:
        self._engine = engine

    @endpoint("GET", "/api/v1/alerts", summary="List alerts", tag="monitoring",
              permission=Permission.READ, query=AlertsQuery, response=AlertList)  # fmt: skip
    async def list(self, request: web.Request, query: AlertsQuery) -> AlertList:
        """Alerts, newest first: of one `level` or `state` (firing, resolved), fired or
        resolved `since` a time, `limit` per page from `offset`."""
        since = epoch_of(query.since) if query.since else None
        alerts, total = await self._engine.query(
            AlertQuery(query.level, query.state, since, query.limit, query.offset)
        )
        return AlertList([_out(a) for a in alerts], total, query.offset + len(alerts) < total)

    @endpoint("GET", "/api/v1/alerts/settings", summary="Alert settings", tag="monitoring",
              permission=Permission.READ, response=AlertSettings)  # fmt: skip
    async def settings(self, request: web.Request) -> AlertSettings:
        """Thresholds, notifications and rules; secrets show only as `hasSecret` and
        `hasPassword`."""
        return self._engine.settings.public()

    @endpoint("POST", "/api/v1/alerts/settings", summary="Change alert settings",
              tag="monitoring", permission=Permission.ADMIN, body=SettingsUpdate,
              response=AlertSettings)  # fmt: skip
    async def update_settings(self, request: web.Request, body: SettingsUpdate) -> AlertSettings:
        """Checked as a whole (400 naming every bad field), stored in one write and applied
        at once. A secret left out (null) keeps the stored one; "" removes it."""
        current = self._engine.settings
        wanted = AlertSettings(
            thresholds=body.thresholds or current.thresholds,
            notifications=body.notifications or current.notifications,
            rules=body.rules or current.rules,
        )
        applied = await self._engine.apply(keep_secrets(wanted, current))
        return applied.public()

    @endpoint("POST", f"/api/v1/alerts/{ALERT}/acknowledge", summary="Acknowledge an alert",
              tag="monitoring", permission=Permission.CONTROL, response=AlertOut,
              path_params={"alert_id": {"type": "string", "pattern": f"^{ALERT_ID}$"}})  # fmt: skip
    async def acknowledge(self, request: web.Request) -> AlertOut:
        """Marks the alert seen by the caller; acknowledging again changes nothing."""
        alert = await self._engine.acknowledge(
            request.match_info["alert_id"], identity_of(request).username
        )
        return _out(alert)
