"""The API's handlers, each handed the components it translates requests into calls on.

One object per resource (`homei/api/`); the order is the order routes are registered in.
"""

from __future__ import annotations

from homei.api.alerts import AlertsApi
from homei.api.artifacts import ArtifactsApi
from homei.api.auth import AuthApi
from homei.api.backups import BackupsApi
from homei.api.config_device import DeviceConfigApi
from homei.api.config_reload import ConfigReloadApi
from homei.api.config_secrets import ConfigSecretsApi
from homei.api.config_services import ConfigServicesApi
from homei.api.containers import ContainersApi
from homei.api.dashboard import DashboardApi
from homei.api.device_logs import DeviceLogsApi
from homei.api.events import EventsApi
from homei.api.fleet import FleetApi
from homei.api.health import HealthApi
from homei.api.images import ImagesApi
from homei.api.jobs import JobsApi
from homei.api.metrics import MetricsApi
from homei.api.monitoring import MonitoringApi
from homei.api.openapi import SchemaRefinement
from homei.api.service_status import ServiceStatusApi
from homei.api.services import ServicesApi
from homei.api.session import SessionApi
from homei.api.system import SystemApi
from homei.api.systems import SystemsApi
from homei.api.tasks import TasksApi
from homei.api.update import UpdateApi
from homei.api.users import UsersApi
from homei.api.validation import ValidationApi
from homei.api.web import WebApi
from homei.api.websockets import WebSocketHub
from homei.backup.manager import BackupManager
from homei.backup.schedule import Scheduler
from homei.config.device import DeviceConfig
from homei.config.manager import ConfigManager
from homei.config.rotation import SecretRotation
from homei.core.accounts import Accounts
from homei.core.events import EventBus
from homei.core.health import Health
from homei.core.ratelimit import LoginThrottle
from homei.core.tasks import TaskManager
from homei.docker.containers import Containers
from homei.docker.images import Images
from homei.fleet.client import FleetClient
from homei.jobs_wiring import JobParts
from homei.journal.reader import Journal
from homei.monitor.alert_wiring import AlertParts
from homei.monitor.api_metrics import ApiMetrics
from homei.monitor.wiring import MonitorParts
from homei.proxy_wiring import ProxyParts
from homei.service_wiring import ServiceParts
from homei.settings import Settings
from homei.systems_wiring import SystemParts
from homei.units_wiring import UnitParts
from homei.update.gate import HealthGate
from homei.update.manager import UpdateManager


def build_handlers(
    *,
    settings: Settings,
    accounts: Accounts,
    throttle: LoginThrottle,
    health: Health,
    tasks: TaskManager,
    events: EventBus,
    websockets: WebSocketHub,
    metrics: ApiMetrics,
    monitor: MonitorParts,
    updates: UpdateManager,
    gate: HealthGate,
    containers: Containers,
    images: Images,
    services: ServiceParts,
    backups: BackupManager,
    backup_schedules: Scheduler,
    device_config: DeviceConfig,
    rotation: SecretRotation,
    service_configs: ConfigManager,
    jobs: JobParts,
    systems: SystemParts,
    alerts: AlertParts,
    proxy: ProxyParts,
    units: UnitParts,
    fleet: FleetClient,
) -> tuple[list[object], list[SchemaRefinement]]:
    """Every handler object, and the refinements of the OpenAPI document they add."""
    tasks_api = TasksApi(tasks)
    heartbeat = settings.events.heartbeat
    handlers: list[object] = [
        HealthApi(health),
        AuthApi(accounts, throttle),
        SessionApi(accounts, throttle),
        UsersApi(accounts),
        tasks_api,
        SystemApi(settings.data_dir, settings.mode, health, tasks, events, monitor.overview),
        MonitoringApi(
            monitor.overview, monitor.timeline, monitor.sampler, events, websockets, heartbeat
        ),
        EventsApi(events, websockets, heartbeat),
        MetricsApi(metrics),
        UpdateApi(updates, gate),
        ContainersApi(containers, websockets),
        ImagesApi(images),
        ServicesApi(services.manager, services.views),
        ServiceStatusApi(
            services.manager, services.views, services.health, services.samples, websockets
        ),
        BackupsApi(backups, backup_schedules),
        DeviceConfigApi(device_config, lambda: list(services.store.all())),
        ConfigReloadApi(services.reload),
        ConfigSecretsApi(rotation),
        JobsApi(jobs.jobs, events, websockets, heartbeat),
        DashboardApi(jobs.dashboard),
        SystemsApi(systems.systems, systems.admin, systems.keypair),
        ConfigServicesApi(service_configs),
        AlertsApi(alerts.engine),
        ValidationApi(proxy.service_validator, proxy.system_checks),
        ArtifactsApi(units.artifacts),
        DeviceLogsApi(Journal(settings.units.journal_dir)),
        FleetApi(fleet, device_config),
        WebApi(),
    ]
    return handlers, [tasks_api.document_kinds]
