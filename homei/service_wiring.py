"""The app services' part of the daemon: declared in SQLite, kept equal in Docker.

`build_services` creates the service model's parts on Docker's `Runtime` and connects them to
one another and to what the rest of the daemon offers (Docker's events, health, metrics);
`homei.app` starts and stops them. This is the one place that knows both sides of the seam.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import msgspec

from homei.core.events import EventBus
from homei.core.health import Health
from homei.core.store import Store
from homei.core.tasks import TaskManager
from homei.core.work import Workplace
from homei.docker.containers import Containers
from homei.docker.engine import DockerEngine
from homei.docker.runtime import DockerRuntime
from homei.monitor.api_metrics import ApiMetrics
from homei.monitor.service_samples import ServiceSampler
from homei.services.backup_data import ServiceBackupData
from homei.services.control import ServiceControl
from homei.services.health import HealthMonitor
from homei.services.instance import HealthStatus
from homei.services.manager import ServiceManager
from homei.services.policy import Policy
from homei.services.reconciler import Reconciler
from homei.services.reload import ConfigReload
from homei.services.runtime import Configuration
from homei.services.runtimes import ClaimingRuntime, RuntimeRegistry
from homei.services.store import ServiceStore
from homei.services.views import ServiceViews
from homei.settings import Settings

# Container events after which a service is compared with its spec again.
RECONCILE_ON = frozenset({"die", "stop", "destroy", "kill", "oom"})


class ServiceParts(msgspec.Struct, frozen=True):
    store: ServiceStore
    manager: ServiceManager
    reconciler: Reconciler
    health: HealthMonitor
    samples: ServiceSampler
    views: ServiceViews
    backup_data: ServiceBackupData
    reload: ConfigReload


def service_policy(settings: Settings) -> Policy:
    """What specs may ask of the device, from the `[services]` settings."""
    return Policy(
        settings.services_dir,
        tuple(Path(root) for root in settings.services.bind_roots),
        frozenset(settings.services.trusted),
    )


def build_services(
    settings: Settings,
    store: Store,
    docker: DockerEngine,
    containers: Containers,
    tasks: TaskManager,
    events: EventBus,
    health: Health,
    metrics: ApiMetrics,
    configuration: Configuration | None = None,
    runtimes: dict[str, ClaimingRuntime] | None = None,
) -> ServiceParts:
    """The service model on Docker's runtime and the `runtimes` beside it (by spec
    `runtime` name: `systemd`)."""
    service_store = ServiceStore(store)
    # The services' turns (`turns.ONE_PER_SERVICE`), shared by the reconciler, the tasks,
    # control and backups.
    workplace = Workplace(tasks)
    policy = service_policy(settings)
    runtime = RuntimeRegistry(DockerRuntime(docker, policy, containers), runtimes or {})
    reconciler = Reconciler(runtime, policy, service_store, workplace, events, configuration)
    control = ServiceControl(
        service_store,
        reconciler,
        workplace,
        events,
        dependency_timeout=settings.services.dependency_timeout,
    )
    manager = ServiceManager(service_store, reconciler, policy, control, workplace, tasks, events)
    monitor = HealthMonitor(
        service_store,
        runtime,
        control,
        events,
        backoff=settings.services.restart_backoff,
        max_backoff=settings.services.restart_backoff_max,
    )
    samples = ServiceSampler(
        store,
        service_store,
        runtime,
        interval=settings.services.sample_interval,
        retention=settings.services.sample_retention,
    )

    # Docker coming back, or a managed container stopping, is a reason to compare again.
    def on_connect() -> None:
        reconciler.request()

    def on_event(action: str, event: dict[str, Any]) -> None:
        if event["managed"] and event["service"] and action in RECONCILE_ON:
            reconciler.request(event["service"])

    containers.connect_listeners.append(on_connect)
    containers.event_listeners.append(on_event)
    health.register("services", monitor.report)
    health.count_services_with(monitor.counts)
    metrics.labelled_gauge(
        "homei_services_total",
        "Declared services",
        "enabled",
        {"true": partial(service_store.count, True), "false": partial(service_store.count, False)},
    )
    metrics.labelled_gauge(
        "homei_services_health",
        "Declared services by health",
        "status",
        {state: partial(monitor.count, state) for state in HealthStatus},
    )
    return ServiceParts(
        service_store,
        manager,
        reconciler,
        monitor,
        samples,
        ServiceViews(runtime, monitor, manager.config_match),
        ServiceBackupData(service_store, reconciler, policy, workplace),
        ConfigReload(service_store, control, reconciler, monitor, tasks, events),
    )
