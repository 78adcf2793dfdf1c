"""The Docker Engine API through aiodocker, with Docker's absence turned into a clear 503.

Docker may be stopped, restarting or not installed; the daemon stays up either way.
Every call goes through `call`, which answers within a second when the engine does
not, and `report` says how Docker is doing for `/health`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import msgspec

from homei.core.health import DependencyReport, HealthState
from homei.services.instance import InstanceNotFound, RuntimeFailure, RuntimeUnavailable

if TYPE_CHECKING:
    import aiodocker

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

PING_TIMEOUT = 1.0
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
# aiodocker reports a socket it cannot reach as a DockerError with this pseudo-status.
AIODOCKER_UNREACHABLE = 900


class DockerError(RuntimeFailure):
    """Docker refused or failed an operation (seed 001's DOCKER_ERROR)."""

    code = "DOCKER_ERROR"
    status = 500


class DockerUnavailable(DockerError, RuntimeUnavailable):
    """The engine does not answer: 503 until it does again."""

    status = 503


class ContainerNotFound(InstanceNotFound):
    """Docker answered 404: no such container (or image, network, volume)."""


class DockerEngine:
    """One aiodocker client on the engine's socket, shared by every Docker-facing manager."""

    def __init__(self, url: str | None = None) -> None:
        self._url = url or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
        self._client: aiodocker.Docker | None = None
        self.version: dict[str, Any] = {}

    @property
    def client(self) -> aiodocker.Docker:
        """The aiodocker client, created on first use (it needs the running loop)."""
        if self._client is None:
            import aiodocker  # imported on first use: start-up need not wait for it

            # Pinned: "auto" asks the engine its version when the client starts, which fails
            # while Docker is down. 1.41 is Docker 20.10's API; later engines still speak it.
            self._client = aiodocker.Docker(url=self._url, api_version="v1.41")
        return self._client

    async def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def call(
        self, awaitable: Awaitable[T], *, what: str = "Docker", timeout: float | None = 30.0
    ) -> T:
        """Await a Docker call, translating its failures into Homei's errors."""
        from aiodocker import DockerError as ClientError

        try:
            async with asyncio.timeout(timeout):
                return await awaitable
        except ClientError as err:
            if err.status == AIODOCKER_UNREACHABLE:
                raise DockerUnavailable(
                    "Docker is not running: containers are unavailable", {"reason": err.message}
                ) from None
            if err.status == 404:
                raise ContainerNotFound(f"{what}: {err.message}", {"docker": err.message}) from None
            raise DockerError(
                f"{what} failed: {err.message}", {"status": err.status, "docker": err.message}
            ) from None
        except (aiohttp.ClientConnectionError, FileNotFoundError, ConnectionError) as err:
            raise DockerUnavailable(
                "Docker is not running: containers are unavailable",
                {"reason": str(err) or type(err).__name__},
            ) from None
        except TimeoutError:
            raise DockerUnavailable(
                f"Docker did not answer within {timeout:.0f}s", {"reason": "timeout"}
            ) from None

    async def request(
        self,
        path: str,
        *,
        what: str,
        method: str = "GET",
        params: dict[str, str] | None = None,
        body: Any = None,
        decode: type[T] | None = None,
        timeout: float | None = 30.0,
    ) -> T | None:
        """One Engine API call; its answer decoded with msgspec into `decode` (a struct,
        or `Any` for plain values), or None when `decode` is None and the answer unread."""

        async def send() -> T | None:
            data = None if body is None else msgspec.json.encode(body)
            query = self.client._query(path, method=method, params=params or {}, data=data)
            async with query as response:
                raw = await response.read()
            return None if decode is None else msgspec.json.decode(raw, type=decode)

        return await self.call(send(), what=what, timeout=timeout)

    async def _load(self) -> None:
        if self._client is None:
            await asyncio.to_thread(importlib.import_module, "aiodocker")

    async def ping(self) -> dict[str, Any]:
        """The engine's version, within `PING_TIMEOUT`; `DockerUnavailable` otherwise."""
        await self._load()
        version: dict[str, Any] = await self.call(
            self.client.version(), what="Docker ping", timeout=PING_TIMEOUT
        )
        self.version = version
        return version

    async def require(self) -> None:
        """Fail fast (503 within a second) when the engine is down."""
        await self.ping()

    async def report(self) -> DependencyReport:
        """Docker as a dependency in `/health`."""
        # One call: `info` answers only when the engine does, and names its version too.
        try:
            await self._load()
            info = await self.call(
                self.client._query_json("info"), what="Docker info", timeout=PING_TIMEOUT
            )
        except DockerError as err:
            return DependencyReport("docker", HealthState.UNHEALTHY, err.message)
        return DependencyReport(
            "docker",
            HealthState.HEALTHY,
            f"Docker {info.get('ServerVersion', '?')} answers",
            details={
                "version": info.get("ServerVersion"),
                "apiVersion": self.version.get("ApiVersion"),
                "containers": info.get("Containers"),
                "images": info.get("Images"),
                "storageDriver": info.get("Driver"),
            },
        )
