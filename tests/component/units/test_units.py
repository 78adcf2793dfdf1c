"""Native services as systemd units, against a real systemd booted in a container: an
uploaded artefact installed as a hardened unit answers on its port; a unit edited by hand
or stopped behind Homei's back is put right; systemd restarted is found again; a Docker
dependency starts first; delete removes the unit and frees the artefact."""

from __future__ import annotations

import asyncio
import shutil
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.component.services.env import call, httpd, install, until, wait_task
from tests.daemon_process import free_port
from tests.docker_env import dockerd_available
from tests.systemd_env import SystemdContainer

pytestmark = pytest.mark.skipif(
    not dockerd_available() or shutil.which("debootstrap") is None,
    reason="dockerd or debootstrap is not installed",
)
BUSYBOX = Path("/bin/busybox")


def answers(port: int) -> bool:
    """Whether an HTTP server answers on the host's loopback at `port`."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # an answer all the same
    except OSError:
        return False


async def upload(homei: Any, headers: dict[str, str], name: str, version: str) -> dict[str, Any]:
    data = await asyncio.to_thread(BUSYBOX.read_bytes)
    response = await homei.client.post(
        "/api/v1/artifacts",
        params={"name": name, "version": version},
        data=data,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    body = await response.json()
    assert response.status == 201, body
    return body


def native(name: str, port: int, version: str, **fields: Any) -> dict[str, Any]:
    """busybox's httpd as a native service on `port`."""
    return {
        "name": name,
        "runtime": "systemd",
        "artifact": {"name": "busybox", "version": version},
        "args": ["httpd", "-f", "-p", str(port), "-h", "/usr/share"],
        "port": port,
        "stop_timeout": 2,
        **fields,
    }


def unit_text(path: Path) -> str | None:
    """A unit file's text; None while it is not there (between removal and rewrite)."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def active(systemd: SystemdContainer, unit: str) -> bool:
    return systemd.systemctl("is-active", unit, check=False).stdout.strip() == "active"


async def test_native_service_lifecycle(homei, systemd: SystemdContainer):
    headers = await homei.auth()
    artifact = await upload(homei, headers, "busybox", "1")
    assert artifact["size"] == BUSYBOX.stat().st_size and len(artifact["sha256"]) == 64
    listed = await call(homei, "GET", "/api/v1/artifacts", headers)
    assert [(a["name"], a["version"]) for a in listed["artifacts"]] == [("busybox", "1")]

    port = free_port()
    await install(homei, headers, native("web", port, "1", memory_limit="64m", cpu_limit=0.5))
    await until(lambda: asyncio.to_thread(answers, port), "the unit to answer on its port")
    unit_path = systemd.unit_dir / "homei-svc-web.service"
    text = unit_path.read_text()
    for line in ("DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "NoNewPrivileges=yes", "MemoryMax=67108864", "CPUQuota=50%"):  # fmt: skip
        assert line in text.splitlines(), line
    service = await call(homei, "GET", "/api/v1/services/web", headers)
    assert service["status"] == "running", service
    usage = await homei.components.units.runtime.usage("web", instant=False)
    assert usage.memory > 0, usage  # MemoryCurrent, from the unit's cgroup

    # The artefact is refused while the service runs it.
    refused = await homei.client.delete("/api/v1/artifacts/busybox/1", headers=headers)
    assert refused.status == 409 and (await refused.json())["error"]["code"] == "ARTIFACT_IN_USE"

    # Edited by hand: the reconciler writes it back and runs it again.
    unit_path.write_text(text.replace("ProtectHome=yes", "ProtectHome=no"))
    await asyncio.to_thread(systemd.systemctl, "daemon-reload")
    homei.components.reconciler.request("web")
    await until(lambda: unit_text(unit_path) == text, "the unit file to be written back")
    await until(lambda: asyncio.to_thread(answers, port), "the repaired unit to answer")

    # Stopped behind Homei's back: Docker's container events say so, and it starts again.
    manager = homei.components.units.systemd.manager
    assert manager.units.get("homei-svc-web.service") is not None  # read, then followed
    subscription = homei.components.events.subscribe(("container.*",))
    try:
        await asyncio.to_thread(systemd.systemctl, "stop", "homei-svc-web.service")
        seen = await _next_event(subscription, "container.die")
        assert seen.data["service"] == "web" and seen.data["managed"] is True, seen
        seen = await _next_event(subscription, "container.start")
        assert seen.data["service"] == "web", seen
    finally:
        homei.components.events.unsubscribe(subscription)
    await until(lambda: asyncio.to_thread(active, systemd, "homei-svc-web.service"), "a restart")
    await until(lambda: asyncio.to_thread(answers, port), "the unit to answer again")
    # Its state as the signals left it, without a call.
    held = manager.units.get("homei-svc-web.service")
    assert held is not None and held.active_state == "active", held

    # systemd restarted: Homei finds it again and drives it.
    await asyncio.to_thread(systemd.restart)
    await until(lambda: homei.components.units.systemd.available, "systemd back on the bus")
    await call(homei, "POST", "/api/v1/services/web/restart", headers)
    await until(lambda: asyncio.to_thread(answers, port), "the unit after systemd's restart")

    # Deleted with its data: the unit and its state folder go, the port closes, the
    # artefact may go.
    state = "/var/lib/private/homei/web"  # StateDirectory= of a DynamicUser unit
    assert (await asyncio.to_thread(systemd.exec, "test", "-d", state, check=False)).returncode == 0
    await call(homei, "DELETE", "/api/v1/services/web?removeData=true", headers)
    gone = await asyncio.to_thread(systemd.exec, "test", "-e", state, check=False)
    assert gone.returncode != 0, "the state folder is still there"
    await until(lambda: not unit_path.exists(), "the unit file to be removed")
    await until(lambda: asyncio.to_thread(lambda: not answers(port)), "the port to close")
    remaining = await call(homei, "DELETE", "/api/v1/artifacts/busybox/1", headers)
    assert remaining["artifacts"] == []


async def _next_event(subscription: Any, kind: str) -> Any:
    """The next event of `kind` on the subscription (others are passed over)."""
    async with asyncio.timeout(30):
        while True:
            event = await subscription.get()
            if event.type == kind:
                return event


async def test_starts_after_its_docker_dependency(homei, engine, systemd: SystemdContainer):
    headers = await homei.auth()
    await upload(homei, headers, "busybox", "2")
    db_port, web_port = free_port(), free_port()
    await install(homei, headers, httpd("db", ports=[f"127.0.0.1:{db_port}:8080"]))
    await install(homei, headers, native("front", web_port, "2", depends_on=["db"]))
    await until(lambda: asyncio.to_thread(answers, web_port), "the native service")
    await _a_taken_port_is_refused(homei, headers, systemd, web_port, db_port)

    await call(homei, "POST", "/api/v1/services/front/stop", headers)
    await call(homei, "POST", "/api/v1/services/db/stop", headers)
    assert not await asyncio.to_thread(answers, web_port)
    started = await call(homei, "POST", "/api/v1/services/front/start", headers)
    assert started["services"] == ["db", "front"], started
    assert await asyncio.to_thread(answers, db_port)
    assert await asyncio.to_thread(answers, web_port)

    await call(homei, "DELETE", "/api/v1/services/front", headers)
    await call(homei, "DELETE", "/api/v1/services/db", headers)
    await until(
        lambda: not (systemd.unit_dir / "homei-svc-front.service").exists(), "front's unit gone"
    )
    await call(homei, "DELETE", "/api/v1/artifacts/busybox/2", headers)


async def _a_taken_port_is_refused(
    homei: Any,
    headers: dict[str, str],
    systemd: SystemdContainer,
    native_port: int,
    docker_port: int,
) -> None:
    """A native service's port that another service (of either runtime) has, or that is
    bound on the device, is refused with 409 PORT_IN_USE and nothing changes."""

    async def refused(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await homei.client.request(method, path, headers=headers, json=body)
        answer = await response.json()
        assert response.status == 409 and answer["error"]["code"] == "PORT_IN_USE", answer
        return answer  # type: ignore[no-any-return]

    answer = await refused("POST", "/api/v1/services", native("clash", native_port, "2"))
    assert "'front'" in answer["error"]["message"], answer
    answer = await refused("POST", "/api/v1/services", native("clash", docker_port, "2"))
    assert "'db'" in answer["error"]["message"], answer
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        bound = listener.getsockname()[1]
        await refused("POST", "/api/v1/services", native("clash", bound, "2"))
        await refused("PUT", "/api/v1/services/front", {"port": bound})
    await refused("PUT", "/api/v1/services/front", {"port": docker_port})
    listed = await call(homei, "GET", "/api/v1/services", headers)
    assert sorted(s["name"] for s in listed["services"]) == ["db", "front"]
    assert not (systemd.unit_dir / "homei-svc-clash.service").exists()
    front = await call(homei, "GET", "/api/v1/services/front", headers)
    assert front["config_match"] is True and str(native_port) in " ".join(
        (systemd.unit_dir / "homei-svc-front.service").read_text().splitlines()
    )
    verdict = await call(
        homei, "POST", "/api/v1/validate/service", headers, json=native("clash", native_port, "2")
    )
    assert verdict["valid"] is False
    assert [(e["field"], e["code"]) for e in verdict["errors"]] == [("port", "PORT_IN_USE")]


async def test_systemd_away_is_503(homei, systemd: SystemdContainer):
    headers = await homei.auth()
    port = free_port()
    await upload(homei, headers, "busybox", "3")
    await install(homei, headers, native("lone", port, "3"))
    await asyncio.to_thread(systemd.engine.run, "stop", "-t", "2", systemd.name)
    try:
        await until(lambda: not homei.components.units.systemd.available, "systemd gone")
        response = await homei.client.post("/api/v1/services/lone/restart", headers=headers)
        body = await response.json()
        assert response.status == 503 and body["error"]["code"] == "SYSTEMD_ERROR", body
    finally:
        await asyncio.to_thread(systemd.engine.run, "start", systemd.name)
        await asyncio.to_thread(systemd.wait_running)
    await until(lambda: homei.components.units.systemd.available, "systemd back")
    await until(lambda: asyncio.to_thread(answers, port), "the unit after systemd came back")
    await call(homei, "DELETE", "/api/v1/services/lone", headers)
    await until(lambda: not (systemd.unit_dir / "homei-svc-lone.service").exists(), "unit gone")


async def test_command_checks_and_reload_commands_run_beside_the_unit(
    homei, systemd: SystemdContainer
):
    headers = await homei.auth()
    port = free_port()
    await upload(homei, headers, "busybox", "4")
    probe = ["/bin/bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"]  # the port answers
    health = {"checks": [{"type": "command", "command": probe}], "interval": "1s",
              "start_period": "0s"}  # fmt: skip
    await install(homei, headers, native("probed", port, "4", health=health))
    await until(lambda: asyncio.to_thread(answers, port), "the unit to answer")

    async def healthy() -> bool:
        service = await call(homei, "GET", "/api/v1/services/probed", headers)
        return service["health"]["status"] == "healthy"  # type: ignore[no-any-return]

    await until(healthy, "the command check to pass")
    runtime = homei.components.units.runtime
    # The exit status comes back; a name is found on systemd's PATH; /tmp is the unit's.
    assert await runtime.exec("probed", ["/bin/sh", "-c", "exit 7"], 10) == 7
    assert await runtime.exec("probed", ["true"], 10) == 0
    assert await runtime.exec("probed", ["sh", "-c", "echo x > /tmp/seen"], 10) == 0
    assert await runtime.exec("probed", ["test", "-s", "/tmp/seen"], 10) == 0
    leftover = await asyncio.to_thread(
        systemd.systemctl, "list-units", "--all", "--no-legend", "homei-exec-*", check=False
    )
    assert leftover.stdout.strip() == "", leftover.stdout  # each run's unit is forgotten

    closed = ["/bin/bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{free_port()}"]
    assert await runtime.exec("probed", closed, 10) != 0

    # A reload command runs the same way: its status decides the reload task.
    accepted = await call(
        homei, "PUT", "/api/v1/services/probed", headers, 202,
        json={"reload": {"command": ["/bin/sh", "-c", "test -d /proc/self"]}},
    )  # fmt: skip
    assert (await wait_task(homei, headers, accepted["taskId"]))["status"] == "completed"
    started = await call(homei, "POST", "/api/v1/config/probed/reload", headers, 202)
    task = await wait_task(homei, headers, started["taskId"])
    assert task["status"] == "completed", task
    await call(homei, "DELETE", "/api/v1/services/probed", headers)
    await until(lambda: not (systemd.unit_dir / "homei-svc-probed.service").exists(), "gone")
    await call(homei, "DELETE", "/api/v1/artifacts/busybox/4", headers)
