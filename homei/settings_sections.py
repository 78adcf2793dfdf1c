"""The settings' sections: what each holds, its defaults and limits. `settings.py` puts
them together into `Settings`."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from homei.core import cron

Positive = Annotated[int, Meta(ge=1)]
Seconds = Annotated[float, Meta(gt=0)]
LogLevel = Literal["debug", "info", "warning", "error"]
Mode = Literal["device", "development"]


class Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ApiSettings(Section):
    listen: str = ""
    max_body_size: Positive = 1024 * 1024
    shutdown_timeout: Seconds = 5.0
    # Once a request's first byte is in, its headers must all arrive within this.
    header_timeout: Seconds = 10.0
    # A body (an upload) that sends nothing for this long is cut; one that moves may take
    # as long as it needs.
    body_stall_timeout: Seconds = 30.0
    # A connection with no request in flight closes after this.
    idle_timeout: Seconds = 60.0
    max_connections_per_client: Positive = 64


class AuthSettings(Section):
    access_token_ttl: Positive = 3600
    refresh_token_ttl: Positive = 7 * 86400
    login_free_attempts: Positive = 5
    login_max_delay: Positive = 300


class RateLimitSettings(Section):
    enabled: bool = True
    window: Positive = 60
    anonymous: Positive = 10
    authenticated: Positive = 100
    admin: Positive = 1000
    health: Positive = 60
    services: Positive = 30
    containers: Positive = 20
    backups: Positive = 10
    updates: Positive = 5

    def group_limit(self, group: str) -> int | None:
        """The per-endpoint-group limit of seed 001, or None for an unlimited group."""
        value = getattr(self, group, None) if group in _GROUPS else None
        return int(value) if value is not None else None


_GROUPS = frozenset({"health", "services", "containers", "backups", "updates"})


class EventSettings(Section):
    queue_size: Positive = 256
    heartbeat: Seconds = 30.0


class WatchdogSettings(Section):
    max_loop_lag: Seconds = 2.0


class TaskSettings(Section):
    retention: Positive = 1000


class UpdateSettings(Section):
    dbus_address: str = ""  # empty: the system bus ($DBUS_SYSTEM_BUS_ADDRESS or its default)
    updates_dir: str = ""  # empty: <data_dir>/updates
    max_bundle_size: Positive = 8 * 1024**3
    install_timeout: Seconds = 3600.0
    gate_window: Seconds = 120.0
    gate_interval: Seconds = 5.0
    gate_passes: Positive = 3
    reboot_on_failure: bool = True


class DockerSettings(Section):
    url: str = ""  # empty: $DOCKER_HOST, else unix:///var/run/docker.sock
    required: bool = True  # a device whose Docker does not answer is unhealthy (and not ready)
    max_image_size: Positive = 16 * 1024**3


class ServiceSettings(Section):
    root: str = ""  # empty: <data_dir>/services, one folder per service
    # Host folders (besides each service's own) that bind mounts may come from.
    bind_roots: list[str] = msgspec.field(default_factory=list)
    # Services an admin allows privileged mode, host namespaces, capabilities and devices.
    trusted: list[str] = msgspec.field(default_factory=list)
    dependency_timeout: Seconds = 60.0
    sample_interval: Seconds = 30.0
    sample_retention: Seconds = 7 * 86400.0
    restart_backoff: Seconds = 10.0
    restart_backoff_max: Seconds = 300.0
    # Host folder (on a tmpfs) of the secret files services see under /run/secrets; empty:
    # /run/homei/secrets as root, /dev/shm/homei-<uid>-<data folder tag>/secrets otherwise.
    secrets_dir: str = ""


class ProxySettings(Section):
    enabled: bool = True
    admin_url: str = "http://127.0.0.1:2019"  # Caddy's admin API, on loopback
    server_name: str = "homei"  # the server under apps.http.servers that holds the routes
    reconcile_interval: Seconds = 10.0  # how often Caddy's routes are compared with Homei's


class UnitsSettings(Section):
    """Native services as systemd units (`runtime: "systemd"`)."""

    dbus_address: str = ""  # empty: the system bus
    unit_dir: str = "/etc/systemd/system"  # where homei-svc-NAME.service files are written
    artifacts_dir: str = ""  # empty: <data_dir>/artifacts
    # Host folders an `exec` path may name (artefacts are always allowed).
    exec_roots: list[str] = msgspec.field(default_factory=list)
    max_artifact_size: Positive = 512 * 1024**2
    job_timeout: Seconds = 90.0
    # An upgraded unit must stay active this long (and its port answer) before the old one
    # is dropped; it is rolled back if that has not happened within `settle_timeout`.
    settle_time: Seconds = 3.0
    settle_timeout: Seconds = 30.0
    # Where systemd keeps the state folders of DynamicUser= units (backed up with them).
    state_dir: str = "/var/lib/private"
    # The journal folder logs are read from (`journalctl --directory`); empty: the system's.
    journal_dir: str = ""


class BackupSchedule(Section):
    """A backup made on its own: every `interval` seconds, or at the times `cron` names
    (minute hour day-of-month month day-of-week), keeping the newest per `retention`."""

    name: Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")] = "scheduled"
    type: Literal["full", "partial"] = "full"
    services: list[str] = []
    homei: bool = True
    include_data: bool = True
    interval: Seconds | None = None
    cron: str = ""
    keep_last: int = 7
    keep_daily: int = 0
    keep_weekly: int = 0
    password_file: str = ""  # a file holding the password that encrypts these backups

    def __post_init__(self) -> None:
        if self.cron:
            try:
                cron.check(self.cron)
            except ValueError as err:
                raise ValueError(f"cron: {err}") from None


class BackupSettings(Section):
    backups_dir: str = ""  # empty: <data_dir>/backups
    max_backup_size: Positive = 64 * 1024**3  # an uploaded backup may be at most this big
    schedules: list[BackupSchedule] = []


class MonitorSettings(Section):
    interval: Annotated[float, Meta(ge=0)] = 1.0  # seconds between samples; 0: no sampler
    flush_interval: Seconds = 10.0  # samples are written to the history this often
    raw_retention: Seconds = 3600.0
    minute_retention: Seconds = 30 * 86400.0
    five_minute_retention: Seconds = 90 * 86400.0
    hour_retention: Seconds = 365 * 86400.0
    sysfs_root: str = "/sys"


class RotationSettings(Section):
    # How often the secrets' rotation schedules are looked at (a missed one runs at start).
    check_interval: Seconds = 60.0
    # A scheduled rotation that failed (and was rolled back) is tried again after this.
    retry_after: Seconds = 3600.0


VariableName = Annotated[str, Meta(pattern=r"^[A-Z_][A-Z0-9_]{0,63}$")]
VariableValue = Annotated[str, Meta(max_length=4096)]
Domain = Annotated[str, Meta(max_length=253, pattern=r"^$|^[A-Za-z0-9.-]+$")]


class DeviceSettings(Section):
    """What the device is to its services: its domain, its data folders, and the device-wide
    variables a service spec may write as `${NAME}`."""

    domain: Domain = ""
    media_dir: str = ""
    downloads_dir: str = ""
    variables: dict[VariableName, VariableValue] = {}


class JobSettings(Section):
    # Kept of each execution's stdout and of its stderr; the rest is counted, not stored.
    output_limit: Positive = 1024 * 1024
    # Captured output reaches the database at most this often (one transaction per flush).
    flush_interval: Seconds = 1.0
    # Live output is published as `job:output` at most this often per job, coalesced.
    event_interval: Seconds = 0.2
    max_event_chars: Positive = 64 * 1024
    # How many systems one job runs on at once when it does not say.
    concurrency: Positive = 64
    default_timeout: Seconds = 3600.0
    # A cancelled command gets SIGTERM, then SIGKILL after this.
    kill_grace: Seconds = 5.0


class SystemsSettings(Section):
    connect_timeout: Seconds = 10.0  # TCP connect, SSH handshake and login together
    idle_timeout: Seconds = 60.0  # a connection no command used for this long is closed
    health_checks: bool = True
    health_interval: Seconds = 300.0


class AlertsSettings(Section):
    dependency_interval: Seconds = 10.0  # how often a dependency down is looked for
    retry_first: Seconds = 1.0  # a failing channel's first wait; it doubles up to retry_max
    retry_max: Seconds = 300.0


class FleetSettings(Section):
    """A hawkBit DDI server this device takes its OS updates from (off by default)."""

    enabled: bool = False
    url: Annotated[str, Meta(pattern=r"^$|^https?://[^\s]+$")] = ""
    tenant: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "DEFAULT"
    # Empty: the device's machine id.
    controller_id: Annotated[str, Meta(pattern=r"^$|^[A-Za-z0-9_.:-]{1,64}$")] = ""
    token: str = ""
    token_kind: Literal["target", "gateway"] = "target"  # noqa: S105 (a kind, not a secret)
    ca_file: str = ""  # a CA bundle for the server's TLS certificate; "": the system's
    apply: Literal["immediately", "maintenance_window"] = "immediately"
    poll_min: Seconds = 5.0  # the server's `sleep` is held between these
    poll_max: Seconds = 3600.0
    request_timeout: Seconds = 30.0
    reboot_after_install: bool = False

    def problems(self) -> dict[str, str]:
        """Rules across fields (checked on change through the API; at start, a client
        without a URL stays off and says so)."""
        found = {}
        if self.poll_min > self.poll_max:
            found["fleet.poll_min"] = "must not exceed poll_max"
        if self.enabled and not self.url:
            found["fleet.url"] = "required when the fleet client is enabled"
        return found
