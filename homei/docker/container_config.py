"""A service spec as the Engine API body that creates its container."""

from __future__ import annotations

from typing import Any

from homei.services.policy import Policy
from homei.services.spec import ServiceSpec

DEFAULT_NETWORK = "homei"


def network_of(spec: ServiceSpec) -> str:
    """The network the container is created on."""
    return spec.network_mode or (spec.networks[0] if spec.networks else DEFAULT_NETWORK)


def container_config(spec: ServiceSpec, policy: Policy) -> dict[str, Any]:
    """The Engine API body that creates the service's container."""
    exposed: dict[str, dict[str, Any]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in spec.ports:
        key = f"{port.container}/{port.protocol}"
        exposed[key] = {}
        bindings.setdefault(key, []).append(
            {"HostIp": port.ip, "HostPort": str(port.host) if port.host is not None else ""}
        )
    network = network_of(spec)
    host_config: dict[str, Any] = {
        "PortBindings": bindings,
        "Binds": policy.binds(spec),
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
        "Labels": spec.instance_labels(),
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
            "Interval": check.interval.nanoseconds,
            "Timeout": check.timeout.nanoseconds,
            "Retries": check.retries,
            "StartPeriod": check.start_period.nanoseconds,
        }
    return config
