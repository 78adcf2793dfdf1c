"""Typed settings: the sections (`settings_sections.py`) put together, and the paths derived
from them. `settings_layers.py` reads them from their layers."""

from __future__ import annotations

from pathlib import Path

import msgspec

from homei.settings_sections import (
    AlertsSettings,
    ApiSettings,
    AuthSettings,
    BackupSettings,
    DeviceSettings,
    DockerSettings,
    EventSettings,
    FleetSettings,
    JobSettings,
    LogLevel,
    Mode,
    MonitorSettings,
    ProxySettings,
    RateLimitSettings,
    RotationSettings,
    Section,
    ServiceSettings,
    SystemsSettings,
    TaskSettings,
    UnitsSettings,
    UpdateSettings,
    WatchdogSettings,
)


class Settings(Section):
    mode: Mode = "development"
    # The file these settings were read from (or would be): set by the loader, not in a file.
    settings_file: str = ""
    data_dir: Path = Path("var")
    log_level: LogLevel = "info"
    api: ApiSettings = msgspec.field(default_factory=ApiSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    rate_limits: RateLimitSettings = msgspec.field(default_factory=RateLimitSettings)
    events: EventSettings = msgspec.field(default_factory=EventSettings)
    watchdog: WatchdogSettings = msgspec.field(default_factory=WatchdogSettings)
    tasks: TaskSettings = msgspec.field(default_factory=TaskSettings)
    update: UpdateSettings = msgspec.field(default_factory=UpdateSettings)
    docker: DockerSettings = msgspec.field(default_factory=DockerSettings)
    backup: BackupSettings = msgspec.field(default_factory=BackupSettings)
    services: ServiceSettings = msgspec.field(default_factory=ServiceSettings)
    monitor: MonitorSettings = msgspec.field(default_factory=MonitorSettings)
    device: DeviceSettings = msgspec.field(default_factory=DeviceSettings)
    rotation: RotationSettings = msgspec.field(default_factory=RotationSettings)
    jobs: JobSettings = msgspec.field(default_factory=JobSettings)
    systems: SystemsSettings = msgspec.field(default_factory=SystemsSettings)
    alerts: AlertsSettings = msgspec.field(default_factory=AlertsSettings)
    proxy: ProxySettings = msgspec.field(default_factory=ProxySettings)
    units: UnitsSettings = msgspec.field(default_factory=UnitsSettings)
    fleet: FleetSettings = msgspec.field(default_factory=FleetSettings)

    @property
    def host(self) -> str:
        """The address the API binds."""
        return parse_listen(self.api.listen)[0]

    @property
    def port(self) -> int:
        """The port the API binds."""
        return parse_listen(self.api.listen)[1]

    @property
    def database_path(self) -> Path:
        """The SQLite file holding the device's state."""
        return self.data_dir / "homei.db"

    @property
    def secrets_dir(self) -> Path:
        """Keys that never leave the device."""
        return self.data_dir / "secrets"

    @property
    def updates_dir(self) -> Path:
        """Where bundles are uploaded to and installed from."""
        return (
            Path(self.update.updates_dir) if self.update.updates_dir else self.data_dir / "updates"
        )

    @property
    def services_dir(self) -> Path:
        """One folder per service: its configuration and `./relative` bind mounts."""
        return Path(self.services.root) if self.services.root else self.data_dir / "services"

    @property
    def artifacts_dir(self) -> Path:
        """Uploaded programs of native services, one folder per name and version."""
        return (
            Path(self.units.artifacts_dir)
            if self.units.artifacts_dir
            else self.data_dir / "artifacts"
        )

    @property
    def backups_dir(self) -> Path:
        """Where backups are written, uploaded to and restored from."""
        return (
            Path(self.backup.backups_dir) if self.backup.backups_dir else self.data_dir / "backups"
        )

    @property
    def loopback_url(self) -> str:
        """This daemon's own API as reached from the device itself."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # noqa: S104
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def initial_password_file(self) -> Path:
        """Where the first run writes the admin's password."""
        return self.data_dir / "initial-admin-password"


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 in brackets) into its parts; ValueError when malformed."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got '{value}'")
    return host.strip("[]"), int(port)
