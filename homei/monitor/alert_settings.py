"""What `/alerts/settings` holds: 002's `thresholds` and `notifications`, and the rules'
timing; checked as a whole, stored as one row with the channels' secrets sealed."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Protocol
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

from homei.core.errors import ValidationError
from homei.monitor.alert_records import Level

Percent = Annotated[float, Meta(ge=0, le=100)]
Celsius = Annotated[float, Meta(ge=-50, le=200)]
NonNegative = Annotated[float, Meta(ge=0)]
# The secrets' places, for the device key's associated data.
SECRET_PLACES = ("webhook", "smtp")


class _Part(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class LevelPair(_Part):
    warning: float
    critical: float


class Thresholds(_Part):
    """002's thresholds (cpu, memory, disk) and the other figures alerts watch, in percent
    (temperature in degrees Celsius)."""

    cpu: LevelPair = msgspec.field(default_factory=lambda: LevelPair(warning=80, critical=90))
    memory: LevelPair = msgspec.field(default_factory=lambda: LevelPair(warning=80, critical=90))
    disk: LevelPair = msgspec.field(default_factory=lambda: LevelPair(warning=85, critical=95))
    swap: LevelPair = msgspec.field(default_factory=lambda: LevelPair(warning=50, critical=80))
    inodes: LevelPair = msgspec.field(default_factory=lambda: LevelPair(warning=85, critical=95))
    temperature: LevelPair = msgspec.field(
        default_factory=lambda: LevelPair(warning=80, critical=95)
    )


THRESHOLD_NAMES = ("cpu", "memory", "disk", "swap", "inodes", "temperature")


class Timing(_Part):
    """A threshold rule fires once its figure has stayed over the line `for` seconds, and
    clears once it is `hysteresis` below the line."""

    for_: NonNegative = msgspec.field(name="for", default=60.0)
    hysteresis: NonNegative = 5.0


class EventRule(_Part):
    enabled: bool = True
    for_: NonNegative = msgspec.field(name="for", default=0.0)


class RestartRule(_Part):
    """A service that died `count` times within `window` seconds."""

    enabled: bool = True
    count: Annotated[int, Meta(ge=1)] = 3
    window: Annotated[float, Meta(gt=0)] = 600.0


class DiskFullRule(_Part):
    """A filesystem that will be full within `horizon` seconds at the rate of the last
    `window` seconds."""

    enabled: bool = True
    horizon: Annotated[float, Meta(gt=0)] = 86400.0
    window: Annotated[float, Meta(ge=60)] = 3600.0


def _timing() -> dict[str, Timing]:
    return {name: Timing() for name in THRESHOLD_NAMES}


class Rules(_Part):
    thresholds: dict[str, Timing] = msgspec.field(default_factory=_timing)
    # A service its runtime brings back within 10 s is not worth waking anybody for.
    service_down: EventRule = msgspec.field(
        name="serviceDown", default_factory=lambda: EventRule(for_=10.0)
    )
    service_oom: EventRule = msgspec.field(name="serviceOom", default_factory=EventRule)
    service_restarts: RestartRule = msgspec.field(
        name="serviceRestarts", default_factory=RestartRule
    )
    dependency_down: EventRule = msgspec.field(
        name="dependencyDown", default_factory=lambda: EventRule(for_=30.0)
    )
    update_failed: EventRule = msgspec.field(name="updateFailed", default_factory=EventRule)
    backup_failed: EventRule = msgspec.field(name="backupFailed", default_factory=EventRule)
    disk_full: DiskFullRule = msgspec.field(name="diskFull", default_factory=DiskFullRule)

    def timing(self, name: str) -> Timing:
        """A threshold rule's timing (the default when not given)."""
        return self.thresholds.get(name) or Timing()


class Webhook(_Part):
    """A JSON POST per change; signed with HMAC-SHA256 of the body when `secret` is set."""

    url: str
    secret: str | None = None  # never answered; null keeps the stored one, "" removes it
    has_secret: bool = msgspec.field(name="hasSecret", default=False)
    min_level: Level | None = msgspec.field(name="minLevel", default=None)
    timeout: Annotated[float, Meta(gt=0, le=120)] = 10.0


class Smtp(_Part):
    """The mail server 002's `email` sends through."""

    host: str
    port: Annotated[int, Meta(ge=1, le=65535)] = 587
    starttls: bool = True
    ca_file: str = msgspec.field(name="caFile", default="")  # empty: the system's trust store
    username: str = ""
    password: str | None = None  # never answered; null keeps the stored one, "" removes it
    has_password: bool = msgspec.field(name="hasPassword", default=False)
    sender: str = "homei@localhost"
    recipients: list[str] = []
    min_level: Level | None = msgspec.field(name="minLevel", default=None)
    timeout: Annotated[float, Meta(gt=0, le=120)] = 30.0


class Notifications(_Part):
    email: bool = False
    desktop: bool = True
    min_level: Level = msgspec.field(name="minLevel", default=Level.WARNING)
    webhook: Webhook | None = None
    smtp: Smtp | None = None


class AlertSettings(_Part):
    thresholds: Thresholds = msgspec.field(default_factory=Thresholds)
    notifications: Notifications = msgspec.field(default_factory=Notifications)
    rules: Rules = msgspec.field(default_factory=Rules)

    def channels(self, level: Level) -> list[str]:
        """The outbox channels an alert of `level` goes to (desktop is not one: it is live)."""
        n = self.notifications
        chosen = []
        if n.webhook is not None and level.rank >= (n.webhook.min_level or n.min_level).rank:
            chosen.append("webhook")
        if n.email and n.smtp and level.rank >= (n.smtp.min_level or n.min_level).rank:
            chosen.append("email")
        return chosen

    def public(self) -> AlertSettings:
        """These settings as answered: secrets replaced by whether one is set."""
        n = self.notifications
        webhook = n.webhook and msgspec.structs.replace(
            n.webhook, secret=None, has_secret=bool(n.webhook.secret)
        )
        smtp = n.smtp and msgspec.structs.replace(
            n.smtp, password=None, has_password=bool(n.smtp.password)
        )
        return msgspec.structs.replace(
            self, notifications=msgspec.structs.replace(n, webhook=webhook, smtp=smtp)
        )


class Sealer(Protocol):
    """The device key's part that settings need (`config.keys.DeviceKey`)."""

    def seal(self, plaintext: bytes, aad: bytes) -> bytes: ...
    def open(self, sealed: bytes, aad: bytes) -> bytes: ...


def _aad(place: str) -> bytes:
    return b"alerts\x00notifications\x00" + place.encode()


def keep_secrets(new: AlertSettings, old: AlertSettings) -> AlertSettings:
    """`new` with each secret it leaves out (null) taken from `old`; "" removes one."""
    n, o = new.notifications, old.notifications
    webhook, smtp = n.webhook, n.smtp
    if webhook is not None:
        kept = o.webhook.secret if o.webhook and webhook.secret is None else webhook.secret
        webhook = msgspec.structs.replace(webhook, secret=kept or None, has_secret=False)
    if smtp is not None:
        kept = o.smtp.password if o.smtp and smtp.password is None else smtp.password
        smtp = msgspec.structs.replace(smtp, password=kept or None, has_password=False)
    return msgspec.structs.replace(
        new, notifications=msgspec.structs.replace(n, webhook=webhook, smtp=smtp)
    )


def seal(settings: AlertSettings, key: Sealer) -> bytes:
    """The stored document: the settings with their secrets sealed by the device key."""
    n = settings.notifications
    sealed: dict[str, str] = {}
    for place, secret in (
        ("webhook", n.webhook.secret if n.webhook else None),
        ("smtp", n.smtp.password if n.smtp else None),
    ):
        if secret:
            sealed[place] = base64.b64encode(key.seal(secret.encode(), _aad(place))).decode()
    document = msgspec.to_builtins(settings.public())
    return msgspec.json.encode({"settings": document, "sealed": sealed})


def unseal(raw: bytes, key: Sealer) -> AlertSettings:
    """The settings a stored document holds, secrets opened."""
    document: dict[str, Any] = msgspec.json.decode(raw)
    settings = msgspec.convert(document["settings"], AlertSettings)
    opened = {
        place: key.open(base64.b64decode(value), _aad(place)).decode()
        for place, value in document.get("sealed", {}).items()
    }
    n = settings.notifications
    webhook = n.webhook and msgspec.structs.replace(n.webhook, secret=opened.get("webhook"))
    smtp = n.smtp and msgspec.structs.replace(n.smtp, password=opened.get("smtp"))
    return msgspec.structs.replace(
        settings, notifications=msgspec.structs.replace(n, webhook=webhook, smtp=smtp)
    )


def check(settings: AlertSettings) -> None:
    """Raise one ValidationError naming every field whose value does not fit the others."""
    problems: list[dict[str, str]] = []

    def bad(path: str, message: str) -> None:
        problems.append({"path": f"body.{path}", "message": message})

    for name in THRESHOLD_NAMES:
        pair: LevelPair = getattr(settings.thresholds, name)
        top = 200.0 if name == "temperature" else 100.0
        for level in ("warning", "critical"):
            value = getattr(pair, level)
            if not 0 <= value <= top:
                bad(f"thresholds.{name}.{level}", f"must be between 0 and {top:g}")
        if pair.warning > pair.critical:
            bad(f"thresholds.{name}.warning", "must not be above critical")
        if settings.rules.timing(name).hysteresis > pair.warning:
            bad(f"rules.thresholds.{name}.hysteresis", "must not be above the warning threshold")
    for name in settings.rules.thresholds:
        if name not in THRESHOLD_NAMES:
            bad(f"rules.thresholds.{name}", f"unknown; one of {', '.join(THRESHOLD_NAMES)}")
    n = settings.notifications
    if n.webhook is not None:
        url = urlsplit(n.webhook.url)
        if url.scheme not in ("http", "https") or not url.hostname:
            bad("notifications.webhook.url", "must be an http:// or https:// URL")
    if n.email and n.smtp is None:
        bad("notifications.smtp", "is needed when email is on")
    if n.smtp is not None:
        if not n.smtp.host.strip():
            bad("notifications.smtp.host", "must not be empty")
        if n.email and not n.smtp.recipients:
            bad("notifications.smtp.recipients", "needs at least one address when email is on")
        for index, address in enumerate(n.smtp.recipients):
            if "@" not in address or any(c in address for c in " \r\n,<>"):
                bad(f"notifications.smtp.recipients[{index}]", "is not an email address")
        if "@" not in n.smtp.sender or any(c in n.smtp.sender for c in " \r\n"):
            bad("notifications.smtp.sender", "is not an email address")
        if n.smtp.password and not n.smtp.username:
            bad("notifications.smtp.username", "is needed with a password")
    if problems:
        names = ", ".join(p["path"] for p in problems)
        raise ValidationError(f"Invalid alert settings: {names}", {"fields": problems})
