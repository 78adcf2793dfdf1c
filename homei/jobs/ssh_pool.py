"""SSH connections to registered systems: one per system, reused, closed when idle.

Every connection checks the server's host key against the fingerprint pinned for the
system before it logs in, so a password never goes to a host that changed its key. The
first connection to a system pins the key it sees (trust on first use); from then on a
different key fails with `HOST_KEY_MISMATCH` until an admin accepts it.

asyncssh is imported here on the first connection, never at daemon start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from homei.core.errors import redact
from homei.core.lazy import import_module
from homei.jobs.credentials import Credentials
from homei.jobs.execution import ExecutionError
from homei.jobs.keypair import DeviceKeyPair
from homei.jobs.systems import System, Systems

if TYPE_CHECKING:
    from asyncssh import SSHClientConnection

_LOGGER = logging.getLogger(__name__)

# OpenSSH's sshd allows 10 sessions per connection by default (MaxSessions).
SESSIONS_PER_CONNECTION = 10


class _Pooled:
    """One open connection and what it was opened for."""

    def __init__(self, conn: SSHClientConnection, version: tuple[Any, ...]) -> None:
        self.conn = conn
        self.version = version
        self.users = 0
        self.sessions = asyncio.Semaphore(SESSIONS_PER_CONNECTION)
        self.idle: asyncio.TimerHandle | None = None

    @property
    def is_open(self) -> bool:
        return not self.conn.is_closed()


def _version(system: System) -> tuple[Any, ...]:
    # Any change to the system (address, user, password, an accepted host key) moves
    # updated_at, so a connection made before it is not reused after it.
    return (system.hostname, system.port, system.username, system.updated_at)


class SshPool:
    """Opens, shares and closes the connections to every system."""

    def __init__(
        self,
        systems: Systems,
        credentials: Credentials,
        keypair: DeviceKeyPair,
        *,
        connect_timeout: float,
        idle_timeout: float,
    ) -> None:
        self._systems = systems
        self._credentials = credentials
        self._keypair = keypair
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        self._pool: dict[str, _Pooled] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def session(self, system: System, *, fresh: bool = False) -> AsyncIterator[Any]:
        """A connection to `system` with a session slot held; `ExecutionError` if unreachable."""
        pooled = await self._get(system, fresh=fresh)
        pooled.users += 1
        if pooled.idle is not None:
            pooled.idle.cancel()
            pooled.idle = None
        try:
            async with pooled.sessions:
                yield pooled.conn
        finally:
            pooled.users -= 1
            if pooled.users == 0:
                if self._pool.get(system.id) is pooled:
                    pooled.idle = asyncio.get_running_loop().call_later(
                        self._idle_timeout, self._close_idle, system.id, pooled
                    )
                else:  # replaced or forgotten while in use: its last user closes it
                    pooled.conn.close()

    def _close_idle(self, system_id: str, pooled: _Pooled) -> None:
        if pooled.users == 0 and self._pool.get(system_id) is pooled:
            del self._pool[system_id]
            pooled.conn.close()

    async def _get(self, system: System, *, fresh: bool) -> _Pooled:
        lock = self._locks.setdefault(system.id, asyncio.Lock())
        async with lock:
            pooled = self._pool.get(system.id)
            if pooled is not None and (
                fresh or not pooled.is_open or pooled.version != _version(system)
            ):
                self._drop(system.id)
                pooled = None
            if pooled is None:
                pooled = _Pooled(await self._connect(system), _version(system))
                self._pool[system.id] = pooled
            return pooled

    def _drop(self, system_id: str) -> None:
        pooled = self._pool.pop(system_id, None)
        if pooled is not None:
            if pooled.idle is not None:
                pooled.idle.cancel()
            # Sessions still running on it finish; new ones go to a new connection.
            if pooled.users == 0:
                pooled.conn.close()

    def forget(self, system_id: str) -> None:
        """Close the system's connection (it was changed or deleted)."""
        self._drop(system_id)
        self._locks.pop(system_id, None)

    async def close(self) -> None:
        """Close every connection (at shutdown)."""
        pooled = list(self._pool.values())
        self._pool.clear()
        for item in pooled:
            if item.idle is not None:
                item.idle.cancel()
            item.conn.close()
        for item in pooled:
            with contextlib.suppress(Exception):
                await item.conn.wait_closed()

    async def _connect(self, system: System) -> SSHClientConnection:
        await import_module("asyncssh")  # its first import reads files: on a thread
        import asyncssh

        pinned = system.host_key_fingerprint
        seen: list[str] = []

        class _Client(asyncssh.SSHClient):
            def validate_host_public_key(
                self, host: str, addr: str, port: int, key: asyncssh.SSHKey
            ) -> bool:
                fingerprint = str(key.get_fingerprint("sha256"))
                seen.append(fingerprint)
                return pinned is None or fingerprint == pinned

        auth: dict[str, Any]
        if system.auth_method == "password":
            auth = {
                "password": await self._credentials.password(system.id) or "",
                "client_keys": None,
            }
        else:
            auth = {"client_keys": [await self._keypair.private_key()], "password": None}
        try:
            async with asyncio.timeout(self._connect_timeout):
                conn: SSHClientConnection
                conn, _ = await asyncssh.create_connection(
                    _Client,
                    system.hostname,
                    system.port,
                    username=system.username,
                    known_hosts=([], [], []),  # nothing trusted up front: the client decides
                    config=None,
                    agent_path=None,
                    keepalive_interval=30,
                    **auth,
                )
        except asyncssh.HostKeyNotVerifiable:
            offered = seen[-1] if seen else "unknown"
            await self._systems.refuse_host_key(system.id, offered)
            _LOGGER.warning(
                "System %s offered host key %s, not the pinned %s", system.name, offered, pinned
            )
            raise ExecutionError(
                "HOST_KEY_MISMATCH",
                f"The host key of '{system.name}' changed ({offered}, pinned {pinned}); "
                "an admin must accept it",
            ) from None
        except asyncssh.PermissionDenied:
            raise ExecutionError(
                "SSH_AUTH_FAILED", f"'{system.name}' refused the login as '{system.username}'"
            ) from None
        except TimeoutError:
            raise ExecutionError(
                "SSH_TIMEOUT",
                f"'{system.name}' did not answer within {self._connect_timeout:g}s",
            ) from None
        except (OSError, asyncssh.Error) as err:
            reason = _reason(err)
            raise ExecutionError(
                "SSH_UNREACHABLE", f"'{system.name}' cannot be reached: {reason}"
            ) from None
        if pinned is None and seen:
            await self._systems.pin_host_key(system.id, seen[-1])
            _LOGGER.info("Pinned host key %s of system %s", seen[-1], system.name)
        return conn


def _reason(err: Exception) -> str:
    """A short, redacted reason: `Connection refused` rather than asyncio's socket text."""
    if isinstance(err, OSError) and err.errno:
        return os.strerror(err.errno)
    return redact(getattr(err, "reason", "") or str(err) or type(err).__name__)
