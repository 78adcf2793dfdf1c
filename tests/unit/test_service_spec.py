"""The service spec's typed values, and crash-loop detection on instance states."""

from __future__ import annotations

import pytest

from homei.core.errors import ValidationError
from homei.services.checks import ServiceHealth, crash_loop
from homei.services.instance import InstanceState, InstanceStatus
from homei.services.spec import HealthPolicy, decode_spec, encode_spec, parse_spec, spec_fields
from homei.services.values import Duration

BODY = {
    "name": "web",
    "image": "busybox:1",
    "ports": ["127.0.0.1:8080:80", "53/udp"],
    "memory_limit": "64m",
    "cpu_limit": 0.5,
    "environment": {"A": "1"},
    "volumes": ["data:/data", "./conf:/etc/conf:ro"],
    "healthcheck": {"test": "true", "interval": "5s"},
    "health": {"interval": "0.3s", "checks": [{"type": "tcp", "port": 80}]},
}


def test_values_are_parsed_once_and_read_back_as_written():
    spec = parse_spec(BODY)
    web, dns = spec.ports
    assert (web.ip, web.host, web.container, web.protocol) == ("127.0.0.1", 8080, 80, "tcp")
    assert (dns.ip, dns.host, dns.container, dns.protocol) == ("", None, 53, "udp")
    assert spec.memory_bytes == 64 * 1024**2
    assert spec.health.interval.seconds == pytest.approx(0.3)
    assert spec.healthcheck is not None and spec.healthcheck.interval.nanoseconds == 5 * 10**9
    assert spec.health.timeout == Duration("5s")  # the default, typed too
    fields = spec_fields(spec)
    assert fields["ports"] == BODY["ports"] and fields["memory_limit"] == "64m"
    assert decode_spec(encode_spec(spec)) == spec


def test_the_hash_is_the_one_specs_had_as_strings():
    # Containers carry this hash: a different one would recreate every container on upgrade.
    assert parse_spec(BODY).runtime_hash() == "82ac3414d7ac6c77"


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("ports", ["70000:80"], "ports[0]"),
        ("ports", ["80:80/sctp"], "ports[0]"),
        ("ports", [80], "ports[0]"),
        ("memory_limit", "lots", "memory_limit"),
        ("memory_limit", 1024, "memory_limit"),
        ("health", {"interval": "soon"}, "health.interval"),
        ("healthcheck", {"test": "true", "timeout": "1 week"}, "healthcheck.timeout"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(field, value, path):
    with pytest.raises(ValidationError) as refused:
        parse_spec({**BODY, field: value})
    assert refused.value.details["fields"][0]["path"] == path


def _instance(restart_count: int, *, restarting: bool = False, id: str = "one") -> InstanceState:
    return InstanceState(
        id, "web", InstanceStatus.RUNNING, running=True, restarting=restarting,
        restart_count=restart_count,
    )  # fmt: skip


def test_restarting_or_over_budget_is_a_crash_loop_and_a_new_instance_starts_afresh():
    policy = HealthPolicy(restart_budget=2)
    state = ServiceHealth()
    assert crash_loop(state, _instance(0, restarting=True), policy) is not None
    assert crash_loop(state, _instance(5), policy) is None  # restarts before it was watched
    assert crash_loop(state, _instance(7), policy) is None  # two more: within the budget
    assert "restarted 3 times" in (crash_loop(state, _instance(8), policy) or "")
    assert crash_loop(state, _instance(9, id="two"), policy) is None
    assert crash_loop(state, None, policy) is None
