"""What an admin does to systems: register, change, forget, test, accept a new host key.

Keeps the registry, the sealed passwords and the open connections in step: a system
written with its password in one transaction, its connection closed when it changes.
"""

from __future__ import annotations

import uuid

import msgspec

from homei.core.errors import Conflict
from homei.jobs.credentials import CredentialError, Credentials
from homei.jobs.ssh import SshExecutor, TestResult
from homei.jobs.ssh_pool import SshPool
from homei.jobs.system_records import System, SystemIsBuiltIn
from homei.jobs.systems import SystemChanges, Systems


class NoHostKeyOffered(Conflict):
    code = "HOST_KEY_NOT_OFFERED"


class SystemAdmin:
    """Registry writes that also touch secrets or connections."""

    def __init__(
        self, systems: Systems, credentials: Credentials, pool: SshPool, ssh: SshExecutor
    ) -> None:
        self._systems = systems
        self._credentials = credentials
        self._pool = pool
        self._ssh = ssh

    async def create(self, changes: SystemChanges, password: str | None) -> System:
        """Register a system; with a password it logs in with it, else with the device key."""
        method = changes.auth_method or ("password" if password is not None else "key")
        if method == "password" and password is None:
            raise CredentialError("A password is needed to log in with one", {"field": "password"})
        system_id = str(uuid.uuid4())
        row = (
            await self._credentials.password_row(system_id, password)
            if method == "password" and password is not None
            else None
        )
        changes = _with(changes, auth_method=method)
        return await self._systems.create(changes, row, system_id=system_id)

    async def update(self, system_id: str, changes: SystemChanges, password: str | None) -> System:
        """Change a system; a new password switches it to password login."""
        current = await self._systems.get(system_id)
        if current.is_local:
            raise SystemIsBuiltIn("The local system cannot be changed", {"system_id": system_id})
        if password is not None and changes.auth_method is None:
            changes = _with(changes, auth_method="password")
        method = changes.auth_method or current.auth_method
        if method == "password" and password is None and current.auth_method != "password":
            raise CredentialError("A password is needed to log in with one", {"field": "password"})
        row = (
            await self._credentials.password_row(system_id, password)
            if password is not None and method == "password"
            else None
        )
        system = await self._systems.update(system_id, changes, row)
        self._pool.forget(system_id)
        return system

    async def delete(self, system_id: str) -> None:
        """Forget a system, its password and its connection."""
        await self._systems.delete(system_id)
        self._pool.forget(system_id)

    async def test(self, system_id: str) -> TestResult:
        """Seed 004's connection test (pins the host key on the first one)."""
        if (await self._systems.get(system_id)).is_local:
            raise SystemIsBuiltIn("The local system is this device: nothing to connect to")
        return await self._ssh.probe(system_id)

    async def accept_host_key(self, system_id: str, fingerprint: str) -> System:
        """Pin the host key the system offered, once an admin confirms its fingerprint."""
        system = await self._systems.get(system_id)
        offered = await self._systems.offered_host_key(system_id)
        if offered is None or offered != fingerprint:
            raise NoHostKeyOffered(
                f"'{system.name}' has not offered the host key {fingerprint}",
                {"system_id": system_id, "offered": offered},
            )
        await self._systems.accept_host_key(system_id, fingerprint)
        self._pool.forget(system_id)
        return await self._systems.get(system_id)


def _with(changes: SystemChanges, **fields: object) -> SystemChanges:
    return msgspec.structs.replace(changes, **fields)
