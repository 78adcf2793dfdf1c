"""What a running daemon is made of: its components, and the database migrations of those
that keep state. `app.py` builds them; the server and the tests hold them."""

from __future__ import annotations

import msgspec

from homei.api.websockets import WebSocketHub
from homei.backup import homei_part as backup_schema
from homei.backup.manager import BackupManager
from homei.config import config_records as service_config_schema
from homei.config import keys as device_key_schema
from homei.config import rotation_schedule as rotation_schema
from homei.config.keys import DeviceKey
from homei.config.service_config import ServiceConfigs
from homei.core import accounts as accounts_schema
from homei.core import tasks as tasks_schema
from homei.core.accounts import Accounts
from homei.core.events import EventBus
from homei.core.health import Health
from homei.core.store import Store
from homei.core.tasks import TaskManager
from homei.core.watchdog import LoopMonitor, Watchdog
from homei.dbus.bus import SystemBus
from homei.docker.containers import Containers
from homei.docker.engine import DockerEngine
from homei.fleet import actions as fleet_schema
from homei.fleet.client import FleetClient
from homei.jobs import job_records as jobs_schema
from homei.jobs import system_records as systems_schema
from homei.jobs.jobs import Jobs
from homei.monitor import alert_records as alerts_schema
from homei.monitor import history as monitor_schema
from homei.monitor.alerts import AlertEngine
from homei.monitor.api_metrics import ApiMetrics
from homei.monitor.notify.deliverer import Deliverer
from homei.monitor.service_samples import ServiceSampler
from homei.monitor.wiring import MonitorParts
from homei.services import store as services_schema
from homei.services.health import HealthMonitor
from homei.services.manager import ServiceManager
from homei.services.reconciler import Reconciler
from homei.settings import Settings
from homei.systems_wiring import SystemParts
from homei.units_wiring import UnitParts
from homei.update import history as update_schema
from homei.update.gate import HealthGate
from homei.update.manager import UpdateManager

MIGRATIONS = (
    *accounts_schema.MIGRATIONS,
    *tasks_schema.MIGRATIONS,
    *update_schema.MIGRATIONS,
    *services_schema.MIGRATIONS,
    *backup_schema.MIGRATIONS,
    *device_key_schema.MIGRATIONS,
    *monitor_schema.MIGRATIONS,
    *jobs_schema.MIGRATIONS,
    *systems_schema.MIGRATIONS,
    *service_config_schema.MIGRATIONS,
    *rotation_schema.MIGRATIONS,
    *alerts_schema.MIGRATIONS,
    *fleet_schema.MIGRATIONS,
)


class Components(msgspec.Struct, frozen=True):
    """The long-lived parts of a running daemon, for the server and for tests."""

    settings: Settings
    store: Store
    events: EventBus
    tasks: TaskManager
    accounts: Accounts
    device_key: DeviceKey
    health: Health
    metrics: ApiMetrics
    loop_monitor: LoopMonitor
    watchdog: Watchdog
    websockets: WebSocketHub
    system_bus: SystemBus
    updates: UpdateManager
    gate: HealthGate
    docker: DockerEngine
    containers: Containers
    services: ServiceManager
    reconciler: Reconciler
    service_health: HealthMonitor
    samples: ServiceSampler
    backups: BackupManager
    monitor: MonitorParts
    jobs: Jobs
    systems: SystemParts
    service_configs: ServiceConfigs
    alerts: AlertEngine
    deliverer: Deliverer
    units: UnitParts
    fleet: FleetClient
