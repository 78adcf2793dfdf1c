"""Drift: where a running instance differs from what its spec asks for, field by field.

Compared on what the runtime reports back, so an instance changed by hand is noticed even
when its labels (and the spec's hash among them) were copied.
"""

from __future__ import annotations

from homei.services.instance import CONFIG_HASH_LABEL, Applied, InstanceState, PublishedPort
from homei.services.policy import Policy
from homei.services.spec import ServiceSpec


def expected(spec: ServiceSpec, policy: Policy) -> Applied:
    """What an instance made from the spec reports back."""
    return Applied(
        image=spec.image,
        command=tuple(spec.command) if spec.command else None,
        environment=frozenset(f"{k}={v}" for k, v in spec.environment.items()),
        labels=spec.instance_labels(),
        ports=frozenset(
            PublishedPort(p.ip, str(p.host) if p.host is not None else "", p.container, p.protocol)
            for p in spec.ports
        ),
        binds=frozenset(policy.binds(spec)),
        restart_policy=spec.restart_policy,
        memory=spec.memory_bytes or 0,
        nano_cpus=int(spec.cpu_limit * 1e9) if spec.cpu_limit else 0,
        privileged=spec.privileged,
    )


def config_matches(want: Applied, state: InstanceState) -> bool:
    """Whether the instance runs with the configuration the spec resolves to (003's
    `config_match`)."""
    return state.applied.labels.get(CONFIG_HASH_LABEL) == want.labels.get(CONFIG_HASH_LABEL)


def drift(want: Applied, state: InstanceState) -> list[str]:
    """The spec's field names where the instance differs from `want`."""
    have = state.applied
    differences = []
    if have.image != want.image:
        differences.append("image")
    if want.command is not None and have.command != want.command:
        differences.append("command")
    if not want.environment <= have.environment:  # an image adds variables of its own
        differences.append("environment")
    changed = {k for k, v in want.labels.items() if have.labels.get(k) != v}
    if CONFIG_HASH_LABEL in changed:  # started with other configuration values
        differences.append("config")
    if changed - {CONFIG_HASH_LABEL}:
        differences.append("labels")
    if have.ports != want.ports:
        differences.append("ports")
    if have.binds != want.binds:
        differences.append("volumes")
    if have.restart_policy != want.restart_policy:
        differences.append("restart_policy")
    if have.memory != want.memory:
        differences.append("memory_limit")
    if have.nano_cpus != want.nano_cpus:
        differences.append("cpu_limit")
    if have.privileged != want.privileged:
        differences.append("privileged")
    return differences
