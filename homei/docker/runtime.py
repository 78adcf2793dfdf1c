"""Services as Docker containers: the service model's `Runtime` on the Docker engine.

Every object Homei creates carries `io.homei.managed=true` and `io.homei.service=<name>`;
the container also carries the hash of the spec it was made from. A container is read once
into an `InstanceState` (see `described`); the spec becomes its Engine API body in
`container_config`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from homei.core.errors import HomeiError
from homei.docker import described
from homei.docker.container_config import DEFAULT_NETWORK, container_config
from homei.docker.containers import Containers
from homei.docker.engine import ContainerNotFound, DockerEngine, DockerError
from homei.services.instance import (
    MANAGED_LABEL,
    SERVICE_LABEL,
    ImageMissing,
    InstanceRef,
    InstanceState,
    Usage,
)
from homei.services.policy import Policy
from homei.services.runtime import Progress
from homei.services.spec import ServiceSpec

_LOGGER = logging.getLogger(__name__)


def _first_name(names: list[str] | None) -> str:
    return (names or ["?"])[0].lstrip("/")


class DockerRuntime:
    """Creates, starts, stops and removes the containers of services."""

    def __init__(self, engine: DockerEngine, policy: Policy, containers: Containers) -> None:
        self.engine = engine
        self._policy = policy
        self._containers = containers

    async def require(self) -> None:
        await self.engine.require()

    # --- what a container needs ----------------------------------------------------------
    async def image_present(self, image: str) -> bool:
        try:
            await self.engine.request(f"images/{image}/json", what=f"Image '{image}'")
        except ContainerNotFound:
            return False
        return True

    async def image_fetchable(self, image: str) -> str | None:
        try:
            await self.engine.request(
                f"distribution/{image}/json", what=f"Registry lookup of '{image}'"
            )
        except HomeiError as err:  # not found, refused, or no registry to ask
            return err.message
        return None

    async def ensure_image(self, image: str, progress: Progress) -> None:
        if await self.image_present(image):
            return
        await progress(5, f"Pulling {image}")
        repo, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
        try:
            await self.engine.call(
                self.engine.client.images.pull(repo, tag=tag or "latest"),
                what=f"Pulling '{image}'",
                timeout=None,
            )
        except DockerError as err:
            raise ImageMissing(
                f"Image '{image}' is not on the device and could not be pulled: {err.message}",
                {"fields": [{"path": "image", "message": err.message}]},
            ) from None

    async def prepare(self, spec: ServiceSpec) -> None:
        """The networks the service joins (labelled as Homei's) and its named volumes."""
        for network in [] if spec.network_mode else spec.networks or [DEFAULT_NETWORK]:
            try:
                await self.engine.request(f"networks/{network}", what=f"Network '{network}'")
                continue
            except ContainerNotFound:
                pass
            body = {
                "Name": network,
                "Driver": "bridge",
                "CheckDuplicate": True,
                "Labels": {MANAGED_LABEL: "true"},
            }
            try:
                await self.engine.request(
                    "networks/create", method="POST", body=body, what=f"Network '{network}'"
                )
            except DockerError as err:
                if err.details.get("status") != 409:  # created meanwhile
                    raise
        for volume in spec.volumes:
            if volume.is_named:
                body = {"Name": volume.source, "Labels": {**_marks(spec.name)}}
                await self.engine.request(
                    "volumes/create",
                    method="POST",
                    body=body,
                    what=f"Creating volume '{volume.source}'",
                )

    async def release(self, spec: ServiceSpec, keep: set[str]) -> None:
        """Remove the service's own networks (Homei's, named by no other service, empty)."""
        if spec.network_mode:
            return
        for network in spec.networks:
            if network in keep or network == DEFAULT_NETWORK:
                continue
            try:
                found = await self.engine.request(
                    f"networks/{network}", what=f"Network '{network}'", decode=described.Network
                )
            except ContainerNotFound:
                continue
            assert found is not None
            if (found.labels or {}).get(MANAGED_LABEL) != "true" or found.containers:
                continue
            try:
                await self.engine.request(
                    f"networks/{network}", method="DELETE", what=f"Removing network '{network}'"
                )
            except (ContainerNotFound, DockerError) as err:  # joined or removed meanwhile
                _LOGGER.info("Network %s stays: %s", network, err.message)

    async def volume_path(self, name: str) -> str | None:
        try:
            found = await self.engine.request(
                f"volumes/{name}", what=f"Volume '{name}'", decode=described.Volume
            )
        except ContainerNotFound:
            return None
        return found.mountpoint or None if found else None

    async def remove_volume(self, name: str) -> None:
        with contextlib.suppress(ContainerNotFound):
            await self.engine.request(
                f"volumes/{name}", method="DELETE", what=f"Removing volume '{name}'"
            )

    async def remove_data(self, spec: ServiceSpec) -> None:
        return None  # a container's data is in its volumes and the service's folder

    async def data_paths(self, spec: ServiceSpec) -> dict[str, str]:
        return {}  # a container's data is in its volumes and binds

    async def published_ports(self) -> dict[tuple[str, int], str]:
        taken: dict[tuple[str, int], str] = {}
        rows = await self.engine.request(
            "containers/json", what="Listing containers", decode=list[described.Listed]
        )
        for row in rows or []:
            for port in row.ports or []:
                if port.public_port:
                    taken[(port.ip or "", port.public_port)] = _first_name(row.names)
        return taken

    # --- containers ----------------------------------------------------------------------
    async def create(self, spec: ServiceSpec, instance: str) -> str:
        created = await self.engine.request(
            "containers/create",
            method="POST",
            params={"name": instance},
            body=container_config(spec, self._policy),
            what=f"Creating the container of '{spec.name}'",
            decode=dict[str, Any],
        )
        container_id = str((created or {})["Id"])
        for extra in spec.networks[1:] if not spec.network_mode else []:
            body = {"Container": container_id, "EndpointConfig": {"Aliases": [spec.name]}}
            await self.engine.request(
                f"networks/{extra}/connect",
                method="POST",
                body=body,
                what=f"Connecting '{spec.name}' to '{extra}'",
            )
        return container_id

    async def inspect(self, ref: str) -> InstanceState | None:
        try:
            raw = await self.engine.request(
                f"containers/{ref}/json", what=f"Container '{ref}'", decode=described.Inspected
            )
        except ContainerNotFound:
            return None
        return None if raw is None else described.instance_state(raw)

    async def instances(self, service: str | None = None) -> list[InstanceRef]:
        label = [f"{MANAGED_LABEL}=true"]
        if service is not None:
            label.append(f"{SERVICE_LABEL}={service}")
        rows = await self.engine.request(
            "containers/json",
            what="Listing containers",
            params={"all": "1", "filters": msgspec.json.encode({"label": label}).decode()},
            decode=list[described.Listed],
        )
        return [
            InstanceRef(row.id, _first_name(row.names), (row.labels or {}).get(SERVICE_LABEL))
            for row in rows or []
        ]

    async def start(self, ref: str) -> None:
        await self._post(f"containers/{ref}/start", f"Starting '{ref}'")

    async def settle(self, ref: str) -> None:
        # A container that dies at once fails its start or shows in its health checks.
        return None

    async def stop(self, ref: str, timeout: int | None = None) -> None:
        params = {"t": str(timeout)} if timeout is not None else {}
        await self._post(
            f"containers/{ref}/stop",
            f"Stopping '{ref}'",
            params=params,
            timeout=(timeout or 10) + 30,
        )

    async def kill(self, ref: str) -> None:
        await self._post(f"containers/{ref}/kill", f"Killing '{ref}'")

    async def signal(self, ref: str, signal: str) -> None:
        await self._post(f"containers/{ref}/kill", f"Signalling '{ref}'", params={"signal": signal})

    async def pause(self, ref: str) -> None:
        await self._post(f"containers/{ref}/pause", f"Pausing '{ref}'")

    async def unpause(self, ref: str) -> None:
        await self._post(f"containers/{ref}/unpause", f"Resuming '{ref}'")

    async def rename(self, ref: str, name: str) -> None:
        await self._post(f"containers/{ref}/rename", f"Renaming '{ref}'", params={"name": name})

    async def remove(self, ref: str) -> None:
        with contextlib.suppress(ContainerNotFound):
            await self.engine.request(
                f"containers/{ref}",
                method="DELETE",
                params={"force": "1", "v": "0"},
                what=f"Removing '{ref}'",
                timeout=60.0,
            )

    async def _post(
        self, path: str, what: str, *, params: dict[str, str] | None = None, timeout: float = 60.0
    ) -> None:
        await self.engine.request(path, method="POST", params=params, what=what, timeout=timeout)

    # --- reading and checking ------------------------------------------------------------
    async def exec(self, ref: str, command: list[str], timeout: float) -> int:
        async def run() -> int:
            container = self.engine.client.containers.container(ref)
            execution = await container.exec(command, stdout=True, stderr=True)
            await execution.start(detach=True)
            while True:
                state = await execution.inspect()
                if not state.get("Running"):
                    return int(state.get("ExitCode") or 0)
                await asyncio.sleep(0.05)

        return await self.engine.call(run(), what=f"Exec in '{ref}'", timeout=timeout)

    async def usage(self, ref: str, *, instant: bool = True) -> Usage:
        return await self._containers.usage(ref, instant=instant)

    async def logs(
        self, ref: str, *, tail: int, since: int | None, timestamps: bool, stream: str
    ) -> list[str]:
        return await self._containers.logs(
            ref, tail=tail, since=since, timestamps=timestamps, streams=(stream,)
        )

    def follow(
        self, ref: str, *, tail: int, since: int | None, timestamps: bool
    ) -> AsyncIterator[bytes]:
        return self._containers.follow_bytes(ref, tail=tail, since=since, timestamps=timestamps)


def _marks(service: str) -> dict[str, str]:
    return {MANAGED_LABEL: "true", SERVICE_LABEL: service}
