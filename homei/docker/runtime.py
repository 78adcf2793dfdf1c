"""Services as Docker containers: a spec becomes a container, its networks and its volumes.

Every object Homei creates carries `io.homei.managed=true` and `io.homei.service=<name>`;
the container also carries the hash of the spec it was made from, and `drift` compares a
running container with what its spec asks for, field by field, so a container changed by
hand is noticed even when its labels were copied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from homei.core.errors import Conflict, ValidationError
from homei.docker.containers import MANAGED_LABEL, SERVICE_LABEL
from homei.docker.engine import ContainerNotFound, DockerEngine, DockerError
from homei.services.policy import Policy
from homei.services.spec import ServiceSpec, parse_duration, parse_port

_LOGGER = logging.getLogger(__name__)

HASH_LABEL = "io.homei.spec-hash"
DEFAULT_NETWORK = "homei"
NEXT_SUFFIX = "--next"
Progress = Callable[[float, str], Awaitable[None]]


class ImageMissing(ValidationError):
    code = "INVALID_CONFIG"


class PortTaken(Conflict):
    code = "INVALID_CONFIG"


def _ns(value: str, where: str) -> int:
    return int(parse_duration(value, where) * 1e9)


def container_config(spec: ServiceSpec, policy: Policy) -> dict[str, Any]:
    """The Engine API body that creates the service's container."""
    exposed: dict[str, dict[str, Any]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for index, port in enumerate(spec.ports):
        ip, host, container, proto = parse_port(port, f"ports[{index}]")
        key = f"{container}/{proto}"
        exposed[key] = {}
        bindings.setdefault(key, []).append(
            {"HostIp": ip, "HostPort": str(host) if host is not None else ""}
        )
    binds = [
        f"{v.source if v.is_named else policy.bind_source(spec, v.source)}:{v.target}"
        + (":ro" if v.read_only else "")
        for v in spec.volumes
    ]
    network = spec.network_mode or (spec.networks[0] if spec.networks else DEFAULT_NETWORK)
    host_config: dict[str, Any] = {
        "PortBindings": bindings,
        "Binds": binds,
        "RestartPolicy": {"Name": spec.restart_policy},
        "NetworkMode": network,
        "Privileged": spec.privileged,
        "CapAdd": spec.cap_add or None,
        "Devices": [
            {
                "PathOnHost": d.split(":")[0],
                "PathInContainer": d.split(":")[-1],
                "CgroupPermissions": "rwm",
            }
            for d in spec.devices
        ],
    }
    if spec.pid_mode:
        host_config["PidMode"] = spec.pid_mode
    if spec.memory_bytes:
        host_config["Memory"] = spec.memory_bytes
    if spec.cpu_limit:
        host_config["NanoCpus"] = int(spec.cpu_limit * 1e9)
    config: dict[str, Any] = {
        "Image": spec.image,
        "Env": [f"{k}={v}" for k, v in sorted(spec.environment.items())],
        "Labels": {
            **spec.labels,
            MANAGED_LABEL: "true",
            SERVICE_LABEL: spec.name,
            HASH_LABEL: spec.runtime_hash(),
        },
        "ExposedPorts": exposed,
        "StopTimeout": spec.stop_timeout,
        "HostConfig": host_config,
    }
    if spec.command:
        config["Cmd"] = spec.command
    if network not in ("none", "host", "bridge"):
        config["NetworkingConfig"] = {"EndpointsConfig": {network: {"Aliases": [spec.name]}}}
    if spec.healthcheck is not None:
        check = spec.healthcheck
        test = check.test if isinstance(check.test, list) else ["CMD-SHELL", check.test]
        config["Healthcheck"] = {
            "Test": test,
            "Interval": _ns(check.interval, "healthcheck.interval"),
            "Timeout": _ns(check.timeout, "healthcheck.timeout"),
            "Retries": check.retries,
            "StartPeriod": _ns(check.start_period, "healthcheck.start_period"),
        }
    return config


def _bindings(raw: dict[str, Any] | None) -> dict[str, list[tuple[str, str]]]:
    return {
        port: sorted((b.get("HostIp", ""), b.get("HostPort", "")) for b in entries or [])
        for port, entries in (raw or {}).items()
    }


def drift(expected: dict[str, Any], inspected: dict[str, Any]) -> list[str]:
    """The fields where a container differs from the body that should have made it."""
    config = inspected.get("Config") or {}
    host = inspected.get("HostConfig") or {}
    want_host = expected["HostConfig"]
    labels = config.get("Labels") or {}
    differences = []
    if config.get("Image") != expected["Image"]:
        differences.append("image")
    if "Cmd" in expected and config.get("Cmd") != expected["Cmd"]:
        differences.append("command")
    if not set(expected["Env"]) <= set(config.get("Env") or []):
        differences.append("environment")
    if any(labels.get(k) != v for k, v in expected["Labels"].items()):
        differences.append("labels")
    if _bindings(host.get("PortBindings")) != _bindings(want_host["PortBindings"]):
        differences.append("ports")
    if sorted(host.get("Binds") or []) != sorted(want_host["Binds"]):
        differences.append("volumes")
    if (host.get("RestartPolicy") or {}).get("Name") != want_host["RestartPolicy"]["Name"]:
        differences.append("restart_policy")
    if (host.get("Memory") or 0) != want_host.get("Memory", 0):
        differences.append("memory_limit")
    if (host.get("NanoCpus") or 0) != want_host.get("NanoCpus", 0):
        differences.append("cpu_limit")
    if bool(host.get("Privileged")) != want_host["Privileged"]:
        differences.append("privileged")
    return differences


class DockerRuntime:
    """Creates, starts, stops and removes the containers of services."""

    def __init__(self, engine: DockerEngine, policy: Policy) -> None:
        self.engine = engine
        self.policy = policy

    @property
    def _docker(self) -> Any:
        return self.engine.client

    async def _json(self, path: str, *, what: str, method: str = "GET", **kwargs: Any) -> Any:
        return await self.engine.call(
            self._docker._query_json(path, method=method, **kwargs), what=what
        )

    async def containers(self, name: str | None = None) -> list[dict[str, Any]]:
        """Managed containers (of one service, or all), as the list API gives them."""
        label = [f"{MANAGED_LABEL}=true"]
        if name is not None:
            label.append(f"{SERVICE_LABEL}={name}")
        filters = _filters({"label": label})
        return list(
            await self._json(
                "containers/json",
                what="Listing containers",
                params={"all": "1", "filters": filters},
            )
        )

    async def inspect(self, ref: str) -> dict[str, Any] | None:
        """A container's full description, or None when there is none."""
        try:
            return dict(await self._json(f"containers/{ref}/json", what=f"Container '{ref}'"))
        except ContainerNotFound:
            return None

    async def ensure_image(self, image: str, progress: Progress) -> None:
        """The image present locally, pulled if a registry has it; `ImageMissing` otherwise."""
        try:
            await self._json(f"images/{image}/json", what=f"Image '{image}'")
            return
        except ContainerNotFound:
            pass
        await progress(5, f"Pulling {image}")
        repo, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
        try:
            await self.engine.call(
                self._docker.images.pull(repo, tag=tag or "latest"),
                what=f"Pulling '{image}'",
                timeout=None,
            )
        except DockerError as err:
            raise ImageMissing(
                f"Image '{image}' is not on the device and could not be pulled: {err.message}",
                {"fields": [{"path": "image", "message": err.message}]},
            ) from None

    async def image_present(self, image: str) -> bool:
        try:
            await self._json(f"images/{image}/json", what=f"Image '{image}'")
        except ContainerNotFound:
            return False
        return True

    async def ensure_networks(self, spec: ServiceSpec) -> None:
        """The networks the service joins, created (and labelled as Homei's) when missing."""
        if spec.network_mode:
            return
        for network in spec.networks or [DEFAULT_NETWORK]:
            try:
                await self._json(f"networks/{network}", what=f"Network '{network}'")
            except ContainerNotFound:
                body = {
                    "Name": network,
                    "Driver": "bridge",
                    "CheckDuplicate": True,
                    "Labels": {MANAGED_LABEL: "true"},
                }
                try:
                    await self._json(
                        "networks/create",
                        method="POST",
                        data=_encode(body),
                        what=f"Creating network '{network}'",
                    )
                except DockerError as err:
                    if err.details.get("status") != 409:  # created meanwhile
                        raise

    async def ensure_volumes(self, spec: ServiceSpec) -> None:
        """Named volumes, created with the service's labels (bind mounts need no creating)."""
        for volume in spec.volumes:
            if volume.is_named:
                body = {
                    "Name": volume.source,
                    "Labels": {MANAGED_LABEL: "true", SERVICE_LABEL: spec.name},
                }
                await self._json(
                    "volumes/create",
                    method="POST",
                    data=_encode(body),
                    what=f"Creating volume '{volume.source}'",
                )

    async def volume_path(self, name: str) -> str | None:
        """A named volume's mountpoint on the host."""
        try:
            raw = await self._json(f"volumes/{name}", what=f"Volume '{name}'")
        except ContainerNotFound:
            return None
        return str(raw.get("Mountpoint") or "") or None

    async def remove_volume(self, name: str) -> None:
        with contextlib.suppress(ContainerNotFound):
            await self._request("DELETE", f"volumes/{name}", f"Removing volume '{name}'")

    async def create(self, spec: ServiceSpec, container_name: str) -> str:
        """Create (not start) the container; its id."""
        config = container_config(spec, self.policy)
        created = await self._json(
            "containers/create",
            method="POST",
            params={"name": container_name},
            data=_encode(config),
            what=f"Creating the container of '{spec.name}'",
        )
        container_id = str(created["Id"])
        for extra in spec.networks[1:] if not spec.network_mode else []:
            body = {"Container": container_id, "EndpointConfig": {"Aliases": [spec.name]}}
            await self._json(
                f"networks/{extra}/connect",
                method="POST",
                data=_encode(body),
                what=f"Connecting '{spec.name}' to '{extra}'",
            )
        return container_id

    async def start(self, ref: str) -> None:
        await self._post(f"containers/{ref}/start", f"Starting '{ref}'")

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

    async def pause(self, ref: str) -> None:
        await self._post(f"containers/{ref}/pause", f"Pausing '{ref}'")

    async def unpause(self, ref: str) -> None:
        await self._post(f"containers/{ref}/unpause", f"Resuming '{ref}'")

    async def rename(self, ref: str, name: str) -> None:
        await self._post(f"containers/{ref}/rename", f"Renaming '{ref}'", params={"name": name})

    async def remove(self, ref: str) -> None:
        """Remove a container (stopping it first); gone already is fine."""
        with contextlib.suppress(ContainerNotFound):
            await self._request(
                "DELETE", f"containers/{ref}", f"Removing '{ref}'", params={"force": "1", "v": "0"}
            )

    async def _post(
        self,
        path: str,
        what: str,
        *,
        params: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        await self._request("POST", path, what, params=params, timeout=timeout)

    async def _request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        async def send() -> None:
            async with self._docker._query(path, method=method, params=params or {}) as response:
                await response.read()

        await self.engine.call(send(), what=what, timeout=timeout)

    async def exec(self, ref: str, command: list[str], timeout: float) -> int:
        """Run a command in the container and wait for it; its exit code."""

        async def run() -> int:
            container = self._docker.containers.container(ref)
            execution = await container.exec(command, stdout=True, stderr=True)
            await execution.start(detach=True)
            while True:
                state = await execution.inspect()
                if not state.get("Running"):
                    return int(state.get("ExitCode") or 0)
                await asyncio.sleep(0.05)

        return await self.engine.call(run(), what=f"Exec in '{ref}'", timeout=timeout)

    async def published_ports(self) -> dict[tuple[str, int], str]:
        """Host ports that running containers publish: (ip, port) -> container name."""
        taken: dict[tuple[str, int], str] = {}
        rows = await self._json("containers/json", what="Listing containers")
        for row in rows:
            for port in row.get("Ports") or []:
                if port.get("PublicPort"):
                    name = str((row.get("Names") or ["?"])[0]).lstrip("/")
                    taken[(port.get("IP", ""), int(port["PublicPort"]))] = name
        return taken


def _encode(body: Any) -> bytes:
    import msgspec

    return msgspec.json.encode(body)


def _filters(value: dict[str, list[str]]) -> str:
    import msgspec

    return msgspec.json.encode(value).decode()
