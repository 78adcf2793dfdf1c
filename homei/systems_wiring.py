"""The systems' part of the daemon: the registry, its secrets, the device's SSH key pair,
the SSH connections and the background health check, built in one place."""

from __future__ import annotations

import msgspec

from homei.config.keys import DeviceKey
from homei.core.store import Store
from homei.jobs.admin import SystemAdmin
from homei.jobs.credentials import Credentials
from homei.jobs.health_check import HealthChecker
from homei.jobs.keypair import DeviceKeyPair
from homei.jobs.ssh import SshExecutor
from homei.jobs.ssh_pool import SshPool
from homei.jobs.systems import Systems
from homei.settings import Settings


class SystemParts(msgspec.Struct, frozen=True):
    systems: Systems
    credentials: Credentials
    keypair: DeviceKeyPair
    pool: SshPool
    ssh: SshExecutor
    health: HealthChecker
    admin: SystemAdmin

    def start(self, *, health_checks: bool) -> None:
        """Start the background health check (when the settings ask for it)."""
        if health_checks:
            self.health.start()

    async def stop(self) -> None:
        """Stop checking and close every SSH connection."""
        await self.health.stop()
        await self.pool.close()


def build_systems(settings: Settings, store: Store, device_key: DeviceKey) -> SystemParts:
    """The systems' parts, connected to one another."""
    systems = Systems(store)
    credentials = Credentials(store, device_key)
    keypair = DeviceKeyPair(settings.secrets_dir, device_key)
    pool = SshPool(
        systems,
        credentials,
        keypair,
        connect_timeout=settings.systems.connect_timeout,
        idle_timeout=settings.systems.idle_timeout,
    )
    ssh = SshExecutor(systems, pool)
    health = HealthChecker(systems, ssh, settings.systems.health_interval)
    admin = SystemAdmin(systems, credentials, pool, ssh)
    return SystemParts(systems, credentials, keypair, pool, ssh, health, admin)
