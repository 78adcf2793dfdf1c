"""Each service's configuration: variables and sealed secrets per environment, versioned.

Every write is a new row holding the whole configuration of one (service, environment),
inserted in one statement: a crash leaves the previous version or the new one, never a
mix. Secrets are sealed with the device key, bound to (service, environment, key), so the
database never holds one in clear and a sealed value copied elsewhere does not open.
Reading opens the sealed values only when the caller asks for them.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import time
from collections.abc import Mapping

import msgspec

from homei.config.config_records import (
    SELECT_VERSIONS,
    ConfigVersion,
    ConfigVersionNotFound,
    SecretUnreadable,
    StoredRow,
    VersionInfo,
    stored_row,
)
from homei.config.keys import DeviceKey, SealError, aad
from homei.core.errors import ValidationError
from homei.core.store import Store

REDACTED = "***REDACTED***"
INLINE_OPENS = 32  # up to this many sealed values are opened on the event loop (~3 us each)
DEFAULT_ENVIRONMENT = "production"


class ServiceConfigs:
    """The versioned configurations of every service, secrets sealed with the device key."""

    def __init__(self, store: Store, key: DeviceKey) -> None:
        self._store = store
        self._key = key
        # The newest version per (service, environment), still sealed: reads skip SQLite.
        self._latest: dict[tuple[str, str], StoredRow | None] = {}
        self._lock = asyncio.Lock()  # one writer at a time picks the next version number

    # --- reading -----------------------------------------------------------------------
    async def _current(self, service: str, environment: str) -> StoredRow | None:
        place = (service, environment)
        if place not in self._latest:
            found = await self._store.fetch_one(
                SELECT_VERSIONS + " ORDER BY version DESC LIMIT 1", (service, environment)
            )
            self._latest[place] = stored_row(found) if found is not None else None
        return self._latest[place]

    async def get(
        self,
        service: str,
        environment: str = DEFAULT_ENVIRONMENT,
        *,
        include_secrets: bool = False,
    ) -> ConfigVersion:
        """The newest version (version 0, empty, when none was written yet)."""
        row = await self._current(service, environment)
        if row is None:
            return ConfigVersion(service, environment, 0, {}, {}, 0.0, "")
        return await self._version(service, environment, row, include_secrets)

    async def _version(
        self, service: str, environment: str, row: StoredRow, include_secrets: bool
    ) -> ConfigVersion:
        if include_secrets:
            secrets = await self._open_all(service, environment, row.sealed)
        else:
            secrets = dict.fromkeys(row.sealed, REDACTED)
        return ConfigVersion(
            service,
            environment,
            row.version,
            dict(row.variables),
            secrets,
            row.modified_at,
            row.modified_by,
        )

    async def _open_all(
        self, service: str, environment: str, sealed: dict[str, str]
    ) -> dict[str, str]:
        if len(sealed) <= INLINE_OPENS and self._key.is_loaded:
            # A few values take microseconds each: less than the hop to a thread costs. The
            # first opening imports cryptography, which reads files: that one goes to a thread.
            return self._open_sync(service, environment, sealed)
        return await asyncio.to_thread(self._open_sync, service, environment, sealed)

    def _open_sync(self, service: str, environment: str, sealed: dict[str, str]) -> dict[str, str]:
        opened = {}
        for name, value in sealed.items():
            try:
                plain = self._key.open(base64.b64decode(value), aad(service, environment, name))
            except SealError:
                raise SecretUnreadable(
                    f"Secret {name} of '{service}' ({environment}) does not open with this"
                    " device's key",
                    {"service": service, "environment": environment, "secret": name},
                ) from None
            opened[name] = plain.decode()
        return opened

    def _seal_sync(
        self, service: str, environment: str, plain: Mapping[str, str]
    ) -> dict[str, str]:
        return {
            name: base64.b64encode(
                self._key.seal(value.encode(), aad(service, environment, name))
            ).decode()
            for name, value in plain.items()
        }

    async def versions(self, service: str, environment: str) -> list[VersionInfo]:
        """Every version, newest first."""
        rows = await self._store.fetch_all(
            SELECT_VERSIONS + " ORDER BY version DESC", (service, environment)
        )
        return [
            VersionInfo(r.version, r.modified_at, r.modified_by, len(r.variables), len(r.sealed))
            for r in map(stored_row, rows)
        ]

    async def environments(self, service: str) -> list[str]:
        """The environments the service has a configuration in."""
        rows = await self._store.fetch_all(
            "SELECT DISTINCT environment FROM service_config WHERE service = ? ORDER BY 1",
            (service,),
        )
        return [str(r["environment"]) for r in rows]

    async def secret_equals(self, service: str, environment: str, key: str, candidate: str) -> bool:
        """Whether the stored secret is `candidate`, compared in constant time."""
        row = await self._current(service, environment)
        if row is None or key not in row.sealed:
            return False
        value = (await self._open_all(service, environment, {key: row.sealed[key]}))[key]
        return hmac.compare_digest(value.encode(), candidate.encode())

    # --- writing -----------------------------------------------------------------------
    async def put(
        self,
        service: str,
        environment: str,
        variables: Mapping[str, str],
        secrets: Mapping[str, str],
        *,
        actor: str,
    ) -> ConfigVersion:
        """A new version holding exactly `variables` and `secrets`.

        A secret given as `REDACTED` keeps its current value, so a configuration read
        without its secrets can be written back unchanged.
        """
        async with self._lock:
            current = await self._current(service, environment)
            kept = current.sealed if current else {}
            given = {k: v for k, v in secrets.items() if v != REDACTED}
            unknown = [k for k, v in secrets.items() if v == REDACTED and k not in kept]
            if unknown:
                raise ValidationError(
                    f"Secrets {', '.join(sorted(unknown))} have no value to keep",
                    {"fields": [{"path": f"secrets.{k}"} for k in sorted(unknown)]},
                )
            sealed = await asyncio.to_thread(self._seal_sync, service, environment, given)
            merged = {k: sealed[k] if k in sealed else kept[k] for k in secrets}
            return await self._insert(service, environment, dict(variables), merged, actor, current)

    async def set_secret(
        self, service: str, environment: str, key: str, value: str, *, actor: str
    ) -> ConfigVersion:
        """A new version with one secret set (the rest as they are)."""
        async with self._lock:
            current = await self._current(service, environment)
            sealed = await asyncio.to_thread(self._seal_sync, service, environment, {key: value})
            variables = dict(current.variables) if current else {}
            secrets = {**(current.sealed if current else {}), **sealed}
            return await self._insert(service, environment, variables, secrets, actor, current)

    async def restore(
        self, service: str, environment: str, version: int, *, actor: str
    ) -> ConfigVersion:
        """A new version equal to an older one (its sealed values copied as they are)."""
        async with self._lock:
            found = await self._store.fetch_one(
                SELECT_VERSIONS + " AND version = ?", (service, environment, version)
            )
            if found is None:
                raise ConfigVersionNotFound(
                    f"'{service}' has no version {version} in '{environment}'",
                    {"service": service, "environment": environment, "version": version},
                )
            old = stored_row(found)
            current = await self._current(service, environment)
            return await self._insert(
                service, environment, old.variables, old.sealed, actor, current
            )

    async def _insert(
        self,
        service: str,
        environment: str,
        variables: dict[str, str],
        sealed: dict[str, str],
        actor: str,
        current: StoredRow | None,
    ) -> ConfigVersion:
        row = StoredRow(
            (current.version if current else 0) + 1, variables, sealed, time.time(), actor
        )
        await self._store.execute(
            "INSERT INTO service_config (service, environment, version, variables, secrets,"
            " modified_at, modified_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                service,
                environment,
                row.version,
                msgspec.json.encode(variables).decode(),
                msgspec.json.encode(sealed).decode(),
                row.modified_at,
                actor,
            ),
        )
        self._latest[(service, environment)] = row
        return await self._version(service, environment, row, include_secrets=False)

    async def forget(self, service: str) -> None:
        """Remove every version of a service's configuration (it was uninstalled)."""
        await self._store.execute("DELETE FROM service_config WHERE service = ?", (service,))
        for place in [p for p in self._latest if p[0] == service]:
            del self._latest[place]

    def invalidate(self) -> None:
        """Forget what was read (the database was restored underneath)."""
        self._latest.clear()
