"""Drift on a real Docker engine: a container made by hand from a service's own container with
one field changed is told apart from its spec by that field, and only that field."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.component.services.env import httpd, install, reconciled
from tests.component.services.test_services import free_port
from tests.docker_env import IMAGE, DockerEngine, dockerd_available

pytestmark = pytest.mark.skipif(not dockerd_available(), reason="dockerd is not installed")

OTHER_IMAGE = "homei-test-other:1"


def copy_with(engine: DockerEngine, source: str, name: str, change: Any) -> None:
    """Create (not start) `name` from `source`'s own configuration, `change` applied to it."""
    inspected = engine.inspect(source)
    body = {**inspected["Config"], "HostConfig": inspected["HostConfig"]}
    change(body)
    created = engine.api("POST", "/containers/create", body, query={"name": name})
    assert created.status == 201, created.body


def _set(path: str, value: Any) -> Any:
    *parents, last = path.split(".")

    def change(body: dict[str, Any]) -> None:
        for key in parents:
            body = body[key]
        body[last] = value

    return change


async def test_each_changed_field_is_named(homei, engine):
    headers = await homei.auth()
    port = free_port()
    spec = httpd(
        "model",
        ports=[f"127.0.0.1:{port}:8080"],
        environment={"MODE": "one"},
        labels={"team": "blue"},
        volumes=["model-data:/data"],
        memory_limit="64m",
        cpu_limit=0.5,
    )
    await install(homei, headers, spec)
    await asyncio.to_thread(engine.run, "tag", IMAGE, OTHER_IMAGE)
    inspected = await asyncio.to_thread(engine.inspect, "model")
    env = [e for e in inspected["Config"]["Env"] if not e.startswith("MODE=")]
    labels = {**inspected["Config"]["Labels"], "team": "red"}
    cases = {
        "same": (lambda body: None, []),
        "memory": (_set("HostConfig.Memory", 128 * 1024**2), ["memory_limit"]),
        "cpus": (_set("HostConfig.NanoCpus", 10**9), ["cpu_limit"]),
        "privileged": (_set("HostConfig.Privileged", True), ["privileged"]),
        "binds": (_set("HostConfig.Binds", ["other-data:/data"]), ["volumes"]),
        "ports": (
            _set(
                "HostConfig.PortBindings",
                {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(free_port())}]},
            ),
            ["ports"],
        ),
        "environment": (_set("Env", [*env, "MODE=two"]), ["environment"]),
        "labels": (_set("Labels", labels), ["labels"]),
        "command": (_set("Cmd", ["sleep", "3600"]), ["command"]),
        "image": (_set("Image", OTHER_IMAGE), ["image"]),
    }
    reconciler = homei.components.reconciler
    declared = homei.components.services.declared("model")
    for case, (change, fields) in cases.items():
        copy = f"model-{case}"
        await asyncio.to_thread(copy_with, engine, "model", copy, change)
        state = await reconciler.runtime.inspect(copy)
        assert state is not None and state.belongs_to("model")  # its labels were copied too
        assert reconciler.drift(declared.spec, state) == fields, case


async def test_an_update_cut_off_before_its_rename_is_adopted_not_fought(homei, engine):
    # The state a swap leaves when Homei dies (or Docker refuses the rename) after removing the
    # old container: the service's only container is its staged one, running, holding the
    # published port. The reconciler makes it the service again instead of creating a second
    # container that could not bind the port.
    headers = await homei.auth()
    port = free_port()
    await install(homei, headers, httpd("adoptee", ports=[f"127.0.0.1:{port}:8080"]))
    before = await asyncio.to_thread(engine.inspect, "adoptee")
    await asyncio.to_thread(engine.run, "rename", "adoptee", "adoptee--next")

    await reconciled(homei, "adoptee")

    after = await asyncio.to_thread(engine.inspect, "adoptee")
    assert after["Id"] == before["Id"] and after["State"]["Running"], after["State"]
    listed = await asyncio.to_thread(
        engine.run,
        "ps",
        "-a",
        "--filter",
        "label=io.homei.service=adoptee",
        "--format",
        "{{.Names}}",
    )
    assert listed.stdout.split() == ["adoptee"]
    assert homei.components.reconciler.last_error is None or "adoptee" not in (
        homei.components.reconciler.last_error
    )
