"""What the service model asks of a runtime: the one interface Docker's containers implement
(and systemd's units will).

The reconciler, control, health and views drive instances only through `Runtime`, and read
them only as `InstanceState`. A runtime raises `RuntimeFailure` (503 `RuntimeUnavailable`
while it does not answer); an instance that is not there is `None`, not an error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from homei.services.instance import InstanceRef, InstanceState, Usage
from homei.services.spec import ServiceSpec

Progress = Callable[[float, str], Awaitable[None]]


class Runtime(Protocol):
    """Creates, runs and reads the instances of services."""

    async def require(self) -> None:
        """Return at once while the runtime answers; `RuntimeUnavailable` otherwise."""

    # --- what an instance needs ----------------------------------------------------------
    async def ensure_image(self, image: str, progress: Progress) -> None:
        """The image present, fetched if it can be; `ImageMissing` otherwise."""

    async def image_present(self, image: str) -> bool:
        """Whether the image is on the device."""

    async def image_fetchable(self, image: str) -> str | None:
        """None when the image can be fetched; the reason it cannot otherwise."""

    async def prepare(self, spec: ServiceSpec) -> None:
        """The networks and volumes the spec names, created when missing."""

    async def release(self, spec: ServiceSpec, keep: set[str]) -> None:
        """Remove the spec's own networks that no service in `keep` names and none uses."""

    async def volume_path(self, name: str) -> str | None:
        """A named volume's folder on the host."""

    async def remove_volume(self, name: str) -> None:
        """Remove a named volume; gone already is fine."""

    async def remove_data(self, spec: ServiceSpec) -> None:
        """Remove what the instance keeps outside the service's folder and its volumes (a
        unit's state directory); called before the instance is removed."""

    async def data_paths(self, spec: ServiceSpec) -> dict[str, str]:
        """Host folders the instance keeps its data in beyond the service's folder and its
        volumes (a unit's state folder), by the name a backup files them under."""

    async def published_ports(self) -> dict[tuple[str, int], str]:
        """Host ports that running instances publish: (ip, port) -> instance name."""

    # --- instances ---------------------------------------------------------------------
    async def create(self, spec: ServiceSpec, instance: str) -> str:
        """Create (not start) an instance named `instance` from the spec; its id."""

    async def inspect(self, ref: str) -> InstanceState | None:
        """The instance's state, or None when there is none."""

    async def instances(self, service: str | None = None) -> list[InstanceRef]:
        """Homei's instances (of one service, or all)."""

    async def start(self, ref: str) -> None:
        """Start the instance."""

    async def settle(self, ref: str) -> None:
        """Return once a just-started instance has stayed up (and answers on its port, if it
        has one); `RuntimeFailure` saying why when it did not."""

    async def stop(self, ref: str, timeout: int | None = None) -> None:
        """Stop the instance, killing it after `timeout` seconds."""

    async def kill(self, ref: str) -> None:
        """Stop the instance at once."""

    async def signal(self, ref: str, signal: str) -> None:
        """Send `signal` (such as `SIGHUP`) to the instance's main process."""

    async def pause(self, ref: str) -> None:
        """Freeze the instance's processes."""

    async def unpause(self, ref: str) -> None:
        """Thaw the instance's processes."""

    async def rename(self, ref: str, name: str) -> None:
        """Give the instance another name."""

    async def remove(self, ref: str) -> None:
        """Remove the instance (stopping it first); gone already is fine."""

    # --- reading and checking ------------------------------------------------------------
    async def exec(self, ref: str, command: list[str], timeout: float) -> int:
        """Run a command in the instance and wait for it; its exit code."""

    async def usage(self, ref: str, *, instant: bool = True) -> Usage:
        """The instance's resource use: one reading at once (`instant`, no CPU percent), or
        two a moment apart with the CPU percent between them."""

    async def logs(
        self, ref: str, *, tail: int, since: int | None, timestamps: bool, stream: str
    ) -> list[str]:
        """The last `tail` lines of one stream (`stdout` or `stderr`)."""

    def follow(
        self, ref: str, *, tail: int, since: int | None, timestamps: bool
    ) -> AsyncIterator[bytes]:
        """The log's bytes as the instance writes them."""
        ...


class Configuration(Protocol):
    """What the service model asks of the configuration: a spec resolved with its values.

    Handed in by the wiring, so the model never imports the configuration package.
    """

    def expand(self, spec: ServiceSpec) -> ServiceSpec:
        """The spec with device variables expanded; a 400 naming an undefined one."""
        ...

    async def resolve(self, spec: ServiceSpec, *, write: bool = True) -> ServiceSpec:
        """The spec an instance is made from (with `write`, its secret files in place)."""
        ...

    async def release(self, service: str, *, forget: bool) -> None:
        """Remove what was prepared for a service that is gone; with `forget`, its
        configuration too."""


class NoConfiguration:
    """Specs as declared: for a model without configuration (tools, tests of the model)."""

    def expand(self, spec: ServiceSpec) -> ServiceSpec:
        return spec

    async def resolve(self, spec: ServiceSpec, *, write: bool = True) -> ServiceSpec:
        return spec

    async def release(self, service: str, *, forget: bool) -> None:
        return None
