"""schemathesis's stateful phase against a daemon of its own: sequences that create a
resource, then follow the document's links to read, change and delete it.

The run acts as an admin whose name it never learns. The links lead from a created user to
`PATCH` and `DELETE /users/{username}`, and a sequence may reach `admin` itself (a new admin
makes the old one deletable); an identity of its own keeps the run's token alive, and a
module of its own keeps that from touching any other test's daemon.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import schemathesis
import schemathesis.engine
from schemathesis.engine import Status, events
from schemathesis.engine.run import PhaseName

from tests.component.conftest import LiveHomei
from tests.component.test_openapi_conformance import SEMANTIC_VALIDATION


def admin_of_its_own(homei: LiveHomei) -> str:
    """An access token of a new admin with a random name."""
    username, password = f"stateful-{secrets.token_hex(6)}", secrets.token_urlsafe(18)
    status, body = homei.process.request(
        "POST",
        "/api/v1/users",
        {"username": username, "password": password, "role": "admin"},
        token=homei.token,
    )
    assert status == 201, body
    status, body = homei.process.request(
        "POST", "/api/v1/auth/login", {"username": username, "password": password}
    )
    assert status == 200, body
    return str(body["access_token"])


def _failures(recorder: Any) -> list[str]:
    """The failed checks of one scenario, each with the request that failed it."""
    found = []
    for case_id, nodes in recorder.checks.items():
        case = recorder.cases[case_id].value
        for node in nodes:
            if node.status == Status.FAILURE and node.failure_info is not None:
                failure = node.failure_info.failure
                found.append(
                    f"{case.operation.label} {case.path_parameters} {case.query} {case.body!r}:"
                    f" {node.name}: {failure.title} {failure.message}"
                )
    return found


@pytest.mark.timeout(900)
def test_stateful_runs_follow_the_links(homei_process: LiveHomei) -> None:
    """schemathesis's stateful phase, run by its own engine (which tells a device whose state
    moved on from a failure): sequences that create a user, key, task, backup or bundle, then
    follow the document's links to read, change and delete it, under every check,
    use_after_free and ensure_resource_availability included."""
    token = admin_of_its_own(homei_process)
    config = schemathesis.Config.from_dict(
        {
            "seed": 20240601,
            "auth": {"openapi": {"bearerAuth": {"bearer": token}}},
            "generation": {"max-examples": 40},
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": False},
                "fuzzing": {"enabled": False},
                "stateful": {"enabled": True, "max-steps": 6},
            },
            # `follow=true` would stream a log until its container stops.
            "parameters": {"follow": "false"},
            "operations": [
                {
                    "include-name": sorted(SEMANTIC_VALIDATION),
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                }
            ],
        }
    )
    schema = schemathesis.openapi.from_url(
        f"{homei_process.url}/openapi.json", config=config, timeout=30
    )
    linked = [
        operation.label
        for operation in (result.ok() for result in schema.get_all_operations())
        if any("links" in r for r in operation.definition.raw["responses"].values())
    ]
    assert len(linked) >= 5, linked
    failed: list[str] = []
    scenarios = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.phase == PhaseName.STATEFUL_TESTING:
            scenarios += 1
            if event.status in (Status.FAILURE, Status.ERROR):
                failed.extend(_failures(event.recorder))
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failed.append(str(event))
    assert scenarios > 0
    assert not failed, "\n".join(failed)
    # The run must not have cost its admin the token (a password change, say): answers that
    # were all 401s would prove nothing.
    assert homei_process.process.request("GET", "/api/v1/auth/me", token=token)[0] == 200
