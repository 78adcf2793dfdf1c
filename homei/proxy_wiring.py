"""The reverse proxy's part of the daemon: Caddy's routes for the services with a domain.

`build_proxy` creates the proxy on Caddy's admin API, makes every service change pass its
domain checks first, registers Caddy as a (non-critical) dependency, and builds the
validation that seed 003's routes answer with.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec

from homei.core.events import EventBus
from homei.core.health import Health
from homei.proxy.caddy import CaddyAdmin
from homei.proxy.manager import ReverseProxy
from homei.proxy.validation import ServiceValidator, SystemChecks
from homei.services.manager import ServiceManager
from homei.services.views import ServiceViews
from homei.settings import Settings


class ProxyParts(msgspec.Struct, frozen=True):
    proxy: ReverseProxy
    service_validator: ServiceValidator
    system_checks: SystemChecks


def build_proxy(
    settings: Settings,
    services: ServiceManager,
    events: EventBus,
    health: Health,
    systemd_available: Callable[[], bool],
    views: ServiceViews,
) -> ProxyParts:
    config = settings.proxy
    caddy = CaddyAdmin(config.admin_url, config.server_name) if config.enabled else None
    proxy = ReverseProxy(caddy, services.store, services.busy, events, config.reconcile_interval)
    services.admission.append(proxy.admit)
    views.route_hash = proxy.route_hash
    health.register("caddy", proxy.report, critical=False)
    return ProxyParts(
        proxy,
        ServiceValidator(services, proxy),
        SystemChecks(
            proxy, settings.services_dir, Path(settings.units.unit_dir), systemd_available
        ),
    )
