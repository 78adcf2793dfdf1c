"""Builds the daemon: every component, created here and handed what it uses.

Reading this file top to bottom is reading the dependency graph.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import msgspec
from aiohttp import web

from homei.api.accesslog import AccessLog
from homei.api.application import web_application
from homei.api.websockets import WebSocketHub
from homei.api_wiring import build_handlers
from homei.backup.catalog import BackupCatalog
from homei.backup.homei_part import HomeiPart, settings_file_from_environment
from homei.backup.manager import BackupManager
from homei.backup.schedule import Scheduler
from homei.backup.task_kind import backup_task_kind
from homei.components import MIGRATIONS, Components
from homei.config.device_variables import DeviceVariables
from homei.config.keys import open_device_key
from homei.config.manager import ConfigManager
from homei.config_wiring import build_config, build_device_config, build_rotation
from homei.core.accounts import Accounts
from homei.core.auth import TokenIssuer, load_or_create_secret
from homei.core.event_types import check_payload
from homei.core.events import EventBus
from homei.core.health import Health
from homei.core.integrity import database_check_kind
from homei.core.ratelimit import LoginThrottle, RateLimiter
from homei.core.store import Store
from homei.core.tasks import TaskManager
from homei.core.watchdog import LoopMonitor, Notifier, Watchdog, watchdog_interval
from homei.dbus import logind
from homei.dbus.bus import SystemBus
from homei.docker.containers import Containers
from homei.docker.engine import DockerEngine
from homei.docker.images import Images
from homei.fleet.wiring import build_fleet
from homei.jobs_wiring import build_jobs
from homei.monitor.alert_wiring import build_alerts
from homei.monitor.api_metrics import ApiMetrics
from homei.monitor.wiring import alert_thresholds, build_monitor
from homei.proxy_wiring import build_proxy
from homei.service_wiring import build_services, service_policy
from homei.settings import Settings
from homei.systems_wiring import build_systems
from homei.units_wiring import build_units, connect_units
from homei.update.bundles import BundleStore
from homei.update.gate import GateSettings, HealthGate
from homei.update.history import UpdateHistory
from homei.update.manager import UpdateManager

_LOGGER = logging.getLogger(__name__)


# The parts a test may leave unstarted (their routes stay, answering 503 or empty).
OPTIONAL_PARTS = frozenset({"updates", "backups"})


async def build(
    settings: Settings,
    notifier: Notifier | None = None,
    *,
    parts: frozenset[str] = OPTIONAL_PARTS,
) -> tuple[web.Application, Components]:
    """Open the database, create every component and the web application around them;
    of `OPTIONAL_PARTS`, only those in `parts` are started."""
    await asyncio.to_thread(settings.data_dir.mkdir, parents=True, exist_ok=True)
    notifier = notifier or Notifier()

    store = await Store.open(settings.database_path, MIGRATIONS)
    try:
        return await _assemble(settings, notifier, store, parts)
    except BaseException:
        await store.close()
        raise


async def _assemble(
    settings: Settings, notifier: Notifier, store: Store, parts: frozenset[str]
) -> tuple[web.Application, Components]:
    events = EventBus(
        settings.events.queue_size,
        check=check_payload if settings.mode == "development" else None,
    )
    tasks = TaskManager(store, events, retention=settings.tasks.retention)
    tasks.register(database_check_kind(store))
    secret = await asyncio.to_thread(load_or_create_secret, settings.secrets_dir / "jwt.key")
    tokens = TokenIssuer(
        secret,
        access_ttl=settings.auth.access_token_ttl,
        refresh_ttl=settings.auth.refresh_token_ttl,
    )
    accounts = Accounts(store, tokens)
    device_key = await open_device_key(store, settings.secrets_dir / "device.key")
    health = Health()
    health.register("database", store.report)
    metrics = ApiMetrics()
    loop_monitor = LoopMonitor()
    watchdog = Watchdog(
        notifier, watchdog_interval(), loop_monitor, max_lag=settings.watchdog.max_loop_lag
    )
    watchdog.add_check("database", store.ping)
    websockets = WebSocketHub()
    metrics.gauge("homei_event_loop_lag_seconds", "Event loop lag", lambda: loop_monitor.lag)
    metrics.gauge("homei_tasks_running", "Tasks running now", lambda: tasks.running_count)
    metrics.gauge("homei_websockets_open", "Open WebSockets", lambda: websockets.count)
    system_bus = SystemBus(settings.update.dbus_address or None)
    updates = UpdateManager(
        system_bus,
        UpdateHistory(store),
        BundleStore(settings.updates_dir, settings.update.max_bundle_size),
        tasks,
        events,
        install_timeout=settings.update.install_timeout,
    )
    health.register("rauc", updates.report, critical=False)
    docker = DockerEngine(settings.docker.url or None)
    containers = Containers(docker, events)
    images = Images(docker, events, settings.docker.max_image_size)
    health.register("docker", docker.report, critical=settings.docker.required)

    # The device variables are read where they live: a change is seen at the next read.
    config = build_config(settings, store, device_key, lambda: settings.device.variables)
    units = build_units(settings, service_policy(settings))
    services = build_services(
        settings, store, docker, containers, tasks, events, health, metrics, config.resolver,
        {"systemd": units.runtime},
    )  # fmt: skip
    connect_units(
        units,
        services.reconciler.request,
        lambda: [row.spec for row in services.store.all().values()],
        events,
    )
    service_configs = ConfigManager(
        config.configs, services.store, services.reconciler.request, events
    )
    systems = build_systems(settings, store, device_key)
    proxy = build_proxy(
        settings, services.manager, events, health, lambda: units.systemd.available, services.views
    )

    def should_run(name: str) -> bool:
        row = services.store.get(name)
        return row is not None and row.should_run

    alerts = build_alerts(settings.alerts, store, events, health, metrics, device_key, should_run)
    monitor = build_monitor(
        settings.monitor,
        settings.data_dir,
        store,
        metrics,
        service_health=services.health.summary,
        list_containers=containers.list,
        thresholds=alert_thresholds(alerts.engine),
    )
    monitor.sampler.add_observer(
        lambda snapshot: alerts.engine.observe(snapshot.gauges(), snapshot.reading.ts)
    )

    async def services_restored() -> None:
        services.reconciler.request()  # the restored declarations, made real in Docker

    settings_file = (
        Path(settings.settings_file)
        if settings.settings_file
        else await asyncio.to_thread(settings_file_from_environment, settings.mode)
    )
    backups = BackupManager(
        BackupCatalog(settings.backups_dir, settings.backup.max_backup_size),
        HomeiPart(
            store,
            MIGRATIONS,
            msgspec.json.encode(settings, enc_hook=str),
            settings_file,
            reload=[accounts.reload, services.store.load, config.reload, services_restored],
            key_backup=config.key_backup,
        ),
        services.backup_data,
        tasks,
        events,
    )
    tasks.register(backup_task_kind(backups))  # POST /tasks {"type": "backup", "config"}
    backup_schedules = Scheduler(settings.backup.schedules, backups, tasks, events)
    limiter = RateLimiter(window=settings.rate_limits.window)
    device_config = build_device_config(
        settings, settings_file, events, limiter, backup_schedules,
        DeviceVariables(services.store, services.reload, tasks),
    )  # fmt: skip
    rotation = build_rotation(settings, store, service_configs, services.reload, events)
    jobs = build_jobs(settings, store, events, systems, services.health, updates, backups)

    async def firing_alerts() -> dict[str, int]:
        counts = alerts.engine.firing_counts()
        return {"total": sum(counts.values()), **{str(level): n for level, n in counts.items()}}

    jobs.dashboard.add_device_source("alerts", firing_alerts)

    async def reboot() -> None:
        if not settings.update.reboot_on_failure:
            _LOGGER.warning("Not rebooting: update.reboot_on_failure is off")
            return
        bus = system_bus.bus
        if bus is None:
            raise RuntimeError("no system bus to ask logind for a reboot")
        await logind.reboot(bus)

    gate = HealthGate(
        updates,
        events,
        f"{settings.loopback_url}/health/ready",
        reboot,
        GateSettings(
            settings.update.gate_window, settings.update.gate_interval, settings.update.gate_passes
        ),
    )
    fleet = build_fleet(settings, store, updates, tasks, events, health, reboot)
    device_config.on_change("fleet", fleet.reconfigure)
    components = Components(
        settings,
        store,
        events,
        tasks,
        accounts,
        device_key,
        health,
        metrics,
        loop_monitor,
        watchdog,
        websockets,
        system_bus,
        updates,
        gate,
        docker,
        containers,
        services.manager,
        services.reconciler,
        services.health,
        services.samples,
        backups,
        monitor,
        jobs.jobs,
        systems,
        config.configs,
        alerts.engine,
        alerts.deliverer,
        units,
        fleet,
    )

    await tasks.load()
    await alerts.engine.load()
    await services.store.load()
    await accounts.ensure_initial_admin(settings.initial_password_file)
    if "backups" in parts:
        await backups.start()

    access_log = AccessLog()
    throttle = LoginThrottle(settings.auth.login_free_attempts, settings.auth.login_max_delay)
    handlers, refine = build_handlers(
        settings=settings,
        accounts=accounts,
        throttle=throttle,
        health=health,
        tasks=tasks,
        events=events,
        websockets=websockets,
        metrics=metrics,
        monitor=monitor,
        updates=updates,
        gate=gate,
        containers=containers,
        images=images,
        services=services,
        backups=backups,
        backup_schedules=backup_schedules,
        device_config=device_config,
        rotation=rotation,
        service_configs=service_configs,
        jobs=jobs,
        systems=systems,
        alerts=alerts,
        proxy=proxy,
        units=units,
        fleet=fleet,
    )
    app = web_application(settings, accounts, metrics, access_log, limiter, handlers, refine=refine)

    dials: list[asyncio.Task[None]] = []

    async def dial_after_ready() -> None:
        await notifier.wait_ready_sent()
        if "updates" in parts:
            await system_bus.start(first_attempt=0)
        await units.dial()
        containers.start_watching()
        monitor.sampler.start()  # after READY: sampling never delays start-up

    async def on_startup(_: web.Application) -> None:
        loop_monitor.start()
        watchdog.start()
        access_log.start()
        if "updates" in parts:
            await updates.start()
            gate.start()
        # Dialling the bus and Docker imports their clients on worker threads: once READY is
        # out, those imports no longer hold the GIL while the API comes up.
        dials.append(asyncio.create_task(dial_after_ready(), name="homei-dial-after-ready"))
        await units.load()
        services.reconciler.start()
        services.health.start()
        services.samples.start()
        if "backups" in parts:
            backup_schedules.start()
        rotation.start()
        await jobs.jobs.start()
        systems.start(health_checks=settings.systems.health_checks)
        alerts.engine.start()
        alerts.deliverer.start()
        proxy.proxy.start()
        if "updates" in parts:
            await fleet.start()
        health.is_ready = True

    async def on_shutdown(_: web.Application) -> None:
        health.is_ready = False
        await websockets.close_all()
        events.close()

    async def on_cleanup(_: web.Application) -> None:
        for dial in dials:
            dial.cancel()
        await asyncio.gather(*dials, return_exceptions=True)
        await gate.stop()
        await fleet.stop()
        await alerts.engine.stop()
        await alerts.deliverer.stop()
        await proxy.proxy.stop()
        await containers.stop_watching()
        await services.samples.stop()
        await monitor.sampler.stop()
        await backup_schedules.stop()
        await rotation.stop()
        await jobs.jobs.stop()
        await systems.stop()
        await services.health.stop()
        await services.reconciler.stop()
        await units.stop()
        await tasks.shutdown()
        await docker.close()
        await system_bus.stop()
        await watchdog.stop()
        await loop_monitor.stop()
        await access_log.stop()
        await store.close()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app, components
