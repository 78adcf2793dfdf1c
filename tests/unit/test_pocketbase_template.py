"""Seed 003's body is a template: a PocketBase service run as a systemd unit."""

from __future__ import annotations

import pytest

from homei.core.errors import ValidationError
from homei.services.spec import normalise, parse_spec, spec_fields

BODY = {
    "project_name": "my-app",
    "port": 8080,
    "pocketbase_version": "0.29.0",
    "domain": "my-app.example.com",
    "created_by": "admin@pockestrator.local",
}


def test_003s_body_is_a_pocketbase_unit_serving_on_loopback() -> None:
    spec = parse_spec(BODY)
    assert spec.name == "my-app"
    assert spec.runtime == "systemd"
    assert spec.artifact is not None
    assert (spec.artifact.name, spec.artifact.version) == ("pocketbase", "0.29.0")
    assert spec.image == "systemd:artifact/pocketbase/0.29.0"
    assert spec.args == ["serve", "--http=127.0.0.1:8080", "--dir=pb_data"]
    assert spec.port == 8080 and spec.domain == "my-app.example.com"
    assert spec.labels == {"template": "pocketbase", "created_by": "admin@pockestrator.local"}
    assert spec.health.checks[0].port == 8080
    assert spec.health.checks[0].path == "/api/health"


def test_an_update_with_another_version_changes_only_the_program() -> None:
    old = parse_spec(BODY)
    merged = spec_fields(old)
    merged.update(normalise({"pocketbase_version": "0.30.1", "name": "my-app"}))
    new = parse_spec(merged, name="my-app")
    assert new.image == "systemd:artifact/pocketbase/0.30.1"
    assert new.args == old.args and new.labels == old.labels and new.port == old.port
    assert new.runtime_hash() != old.runtime_hash()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"port": None}, "port"),
        ({"port": 70000}, "port"),
        ({"pocketbase_version": "../x"}, "pocketbase_version"),
        ({"project_name": "Bad Name"}, "name"),
        ({"shell": "rm"}, "body"),
    ],
)
def test_a_bad_template_is_refused_naming_the_field(change: dict, field: str) -> None:
    body = {k: v for k, v in {**BODY, **change}.items() if v is not None}
    with pytest.raises(ValidationError) as caught:
        parse_spec(body)
    assert field in caught.value.message or field == "body", caught.value.message
