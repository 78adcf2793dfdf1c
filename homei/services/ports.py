"""Ports a service asks for, checked before anything is written: a Docker service's
published host ports, a native service's `port` (seed 003's `PORT_IN_USE`)."""

from __future__ import annotations

import asyncio
import socket

from homei.services.instance import PortInUse, PortTaken
from homei.services.runtime import Runtime
from homei.services.spec import ServiceSpec
from homei.services.store import Declared, ServiceStore


async def native_port_free(store: ServiceStore, spec: ServiceSpec, old: Declared | None) -> None:
    """A native service's `port`: no other service's, and free on the device's loopback
    (its own, while it runs, is not a conflict); `PortInUse` otherwise."""
    port = spec.port
    if port is None or (old is not None and old.spec.port == port):
        return
    owner = next(
        (
            other
            for other, row in store.all().items()
            if other != spec.name
            and (row.spec.port == port or any(p.host == port for p in row.spec.ports))
        ),
        None,
    )
    if owner is not None:
        message = f"Port {port} is already used by service '{owner}'"
    elif not await asyncio.to_thread(can_bind, "127.0.0.1", port, "tcp"):
        message = f"Port {port} is already in use on the device"
    else:
        return
    raise PortInUse(message, {"fields": [{"path": "port", "message": message}], "port": port})


async def published_ports_free(runtime: Runtime, spec: ServiceSpec, old: Declared | None) -> None:
    """The spec's published host ports: none published by another instance or bound on
    the device; `PortTaken` otherwise."""
    published = await runtime.published_ports()
    mine = set(old.spec.ports) if old else set()
    for index, port in enumerate(spec.ports):
        ip, host, proto = port.ip, port.host, port.protocol
        if host is None or port in mine:
            continue
        owner = published.get((ip or "0.0.0.0", host)) or published.get(("", host))  # noqa: S104
        if owner is None and ip:
            owner = published.get(("0.0.0.0", host))  # noqa: S104
        if owner is not None and owner != spec.name:
            raise PortTaken(
                f"Host port {host} is already published by '{owner}'",
                {"fields": [{"path": f"ports[{index}]", "message": "port taken"}]},
            )
        if not await asyncio.to_thread(can_bind, ip, host, proto):
            raise PortTaken(
                f"Host port {host}/{proto} is in use on the device",
                {"fields": [{"path": f"ports[{index}]", "message": "port in use"}]},
            )


def can_bind(ip: str, port: int, proto: str) -> bool:
    """Whether a socket can be bound to `ip:port` now (blocking: call in a thread)."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip or "0.0.0.0", port))  # noqa: S104
        except OSError:
            return False
    return True
