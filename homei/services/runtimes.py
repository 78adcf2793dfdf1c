"""Several runtimes behind the one `Runtime` the model drives: each service's instances live
in the runtime its spec names (`runtime: docker|systemd`).

A call that carries a spec goes to the spec's runtime; a call that names an instance goes
to the runtime that claims it, else to the default one (Docker), which answers "no such
instance" for names it does not know either. Listings are the union of all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from homei.services.instance import InstanceRef, InstanceState, Usage
from homei.services.runtime import Progress, Runtime
from homei.services.spec import ServiceSpec


class ClaimingRuntime(Runtime, Protocol):
    """A runtime beside the default one: it says which instances and images are its own."""

    def owns(self, ref: str) -> bool:
        """Whether `ref` names one of its instances."""
        ...

    def owns_image(self, image: str) -> bool:
        """Whether `image` names one of its programs."""
        ...


class RuntimeRegistry:
    """The default runtime and the others by name, as one `Runtime`."""

    def __init__(self, default: Runtime, others: dict[str, ClaimingRuntime]) -> None:
        self.default = default
        self.others = others

    def for_spec(self, spec: ServiceSpec) -> Runtime:
        """The runtime a spec names (the default one for `docker`)."""
        return self.others.get(spec.runtime, self.default)

    def _by_ref(self, ref: str) -> Runtime:
        for runtime in self.others.values():
            if runtime.owns(ref):
                return runtime
        return self.default

    def _by_image(self, image: str) -> Runtime:
        for runtime in self.others.values():
            if runtime.owns_image(image):
                return runtime
        return self.default

    def _all(self) -> list[Runtime]:
        return [self.default, *self.others.values()]

    async def require(self) -> None:
        await self.default.require()

    async def ensure_image(self, image: str, progress: Progress) -> None:
        await self._by_image(image).ensure_image(image, progress)

    async def image_present(self, image: str) -> bool:
        return await self._by_image(image).image_present(image)

    async def image_fetchable(self, image: str) -> str | None:
        return await self._by_image(image).image_fetchable(image)

    async def prepare(self, spec: ServiceSpec) -> None:
        await self.for_spec(spec).prepare(spec)

    async def release(self, spec: ServiceSpec, keep: set[str]) -> None:
        await self.for_spec(spec).release(spec, keep)

    async def volume_path(self, name: str) -> str | None:
        return await self.default.volume_path(name)

    async def remove_volume(self, name: str) -> None:
        await self.default.remove_volume(name)

    async def remove_data(self, spec: ServiceSpec) -> None:
        await self.for_spec(spec).remove_data(spec)

    async def data_paths(self, spec: ServiceSpec) -> dict[str, str]:
        return await self.for_spec(spec).data_paths(spec)

    async def published_ports(self) -> dict[tuple[str, int], str]:
        ports: dict[tuple[str, int], str] = {}
        for runtime in self._all():
            ports.update(await runtime.published_ports())
        return ports

    async def create(self, spec: ServiceSpec, instance: str) -> str:
        return await self.for_spec(spec).create(spec, instance)

    async def inspect(self, ref: str) -> InstanceState | None:
        return await self._by_ref(ref).inspect(ref)

    async def instances(self, service: str | None = None) -> list[InstanceRef]:
        found: list[InstanceRef] = []
        for runtime in self._all():
            found += await runtime.instances(service)
        return found

    async def start(self, ref: str) -> None:
        await self._by_ref(ref).start(ref)

    async def settle(self, ref: str) -> None:
        await self._by_ref(ref).settle(ref)

    async def stop(self, ref: str, timeout: int | None = None) -> None:
        await self._by_ref(ref).stop(ref, timeout)

    async def kill(self, ref: str) -> None:
        await self._by_ref(ref).kill(ref)

    async def signal(self, ref: str, signal: str) -> None:
        await self._by_ref(ref).signal(ref, signal)

    async def pause(self, ref: str) -> None:
        await self._by_ref(ref).pause(ref)

    async def unpause(self, ref: str) -> None:
        await self._by_ref(ref).unpause(ref)

    async def rename(self, ref: str, name: str) -> None:
        await self._by_ref(ref).rename(ref, name)

    async def remove(self, ref: str) -> None:
        await self._by_ref(ref).remove(ref)

    async def exec(self, ref: str, command: list[str], timeout: float) -> int:
        return await self._by_ref(ref).exec(ref, command, timeout)

    async def usage(self, ref: str, *, instant: bool = True) -> Usage:
        return await self._by_ref(ref).usage(ref, instant=instant)

    async def logs(
        self, ref: str, *, tail: int, since: int | None, timestamps: bool, stream: str
    ) -> list[str]:
        return await self._by_ref(ref).logs(
            ref, tail=tail, since=since, timestamps=timestamps, stream=stream
        )

    def follow(
        self, ref: str, *, tail: int, since: int | None, timestamps: bool
    ) -> AsyncIterator[bytes]:
        return self._by_ref(ref).follow(ref, tail=tail, since=since, timestamps=timestamps)
