"""The served OpenAPI document against the running daemon: schemathesis calls every operation
with generated valid and invalid requests, as an admin, and checks each answer against it."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import requests
import schemathesis
import schemathesis.engine
import schemathesis.specs.openapi.coverage._operation  # imported early: see tests/conftest.py
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckContext, CheckFunction, positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from homei.api.routing import Endpoint, endpoint_of
from homei.core.event_types import EventName
from tests.component.conftest import LiveHomei
from tests.conftest import Homei

# Operations whose server rejects (400) some requests the document calls valid, because the
# rule depends on the device's state, which no schema can state. `positive_data_acceptance` is
# skipped for them only; every other check still runs.
ENDLESS_STREAMS = {
    "GET /api/v1/containers/{container_id}/logs",
    "GET /api/v1/services/{service_name}/logs",
    "GET /api/v1/logs",
}
SEMANTIC_VALIDATION = {
    # A cursor must be one of the journal's.
    "GET /api/v1/logs",
    # The services named must be declared (and fit the backup's type); an upload must be a
    # backup; a restore needs the backup's password.
    "POST /api/v1/backups",
    "POST /api/v1/backups/upload",
    "POST /api/v1/backups/{backup_name}/restore",
    # The current password must be the right one.
    "POST /api/v1/auth/password",
    # A service must name an image the device has or a registry serves, free host ports,
    # declared dependencies; its fields' rules go beyond the schema (see spec.py).
    "POST /api/v1/services",
    "PUT /api/v1/services/{service_name}",
    # An image upload must be a `docker save` tarball.
    "POST /api/v1/images/load",
    # The bundle must be a file inside the updates directory.
    "POST /api/v1/update/install",
    # The slot must be one this device's RAUC knows (its system.conf).
    "POST /api/v1/update/mark-good",
    "POST /api/v1/update/mark-bad",
    "POST /api/v1/update/mark-active",
    # A backup task's config is checked as POST /api/v1/backups checks its body.
    "POST /api/v1/tasks",
    # The range must end after it starts and hold at most 10000 points at its resolution.
    "GET /api/v1/metrics/history",
    # `orchestrator` holds the settings, checked against their own rules (settings.py).
    "PUT /api/v1/config",
    # The systems named must be registered, and the caller allowed to use them; a cron
    # expression must parse.
    "POST /api/v1/jobs",
    # A system's name must be free and not a reserved word; `local` cannot be changed; a
    # host key is accepted only when the system offered it.
    "POST /api/v1/systems",
    "PUT /api/v1/systems/{system_id}",
    "POST /api/v1/systems/{system_id}/accept-host-key",
    # A configuration must follow the rules its (declared) service sets for each variable.
    "PUT /api/v1/config/{service_name}",
    "POST /api/v1/config/{service_name}/import",
    # Thresholds must be ordered (warning <= critical, hysteresis below warning) and email
    # needs a mail server: rules across fields that a schema cannot state.
    "POST /api/v1/alerts/settings",
    # The poll interval's floor must not exceed its ceiling; enabling needs a server's URL.
    "PUT /api/v1/fleet",
}


@pytest.fixture(scope="module")
def api_schema(homei_process: LiveHomei) -> OpenApiSchema:
    """The document as the daemon serves it (fetched without a token), with the admin's token
    for its `bearerAuth` scheme: schemathesis knows where auth goes, so its negative cases that
    leave it out really do."""
    config = schemathesis.Config.from_dict(
        {
            "seed": 20240601,
            "auth": {"openapi": {"bearerAuth": {"bearer": homei_process.token}}},
        }
    )
    return schemathesis.openapi.from_url(
        f"{homei_process.url}/openapi.json", config=config, timeout=30
    )


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    """One keep-alive connection pool for the whole run."""
    with requests.Session() as session:
        yield session


def keeps_its_token(token: str) -> CheckFunction:
    """A check failing once the run has revoked the token it tests with (e.g. by changing the
    admin's password): every later answer would be a 401 that proves nothing."""

    def check(ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> None:
        sent = response.request.headers.get("Authorization")
        # The access middleware's 401s carry a challenge; a handler's (a wrong current
        # password on POST /api/v1/auth/password) do not.
        challenged = "www-authenticate" in response.headers  # lower-cased by schemathesis
        if response.status_code == 401 and challenged and sent == f"Bearer {token}":
            raise AssertionError(f"The admin's token stopped working: {response.text}")

    check.__name__ = "keeps_its_token"
    return check


@pytest.fixture
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32 renames the test node through `_nodeid`, which pytest 9.2 dropped."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.usefixtures("_schemathesis_node_id")
# One test holds every operation as a subtest: its time grows with the API.
@pytest.mark.timeout(900)
@schema.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_every_operation_conforms(
    case: schemathesis.Case, homei_process: LiveHomei, http: requests.Session
) -> None:
    """No 5xx, and every status, content type, header and body as documented.

    One subtest per operation, each running schemathesis's examples, coverage (boundary and
    invalid values) and fuzzing phases, in valid and invalid variants, under every default
    check: not_a_server_error, status_code_conformance, content_type_conformance,
    response_headers_conformance, response_schema_conformance, negative_data_rejection,
    positive_data_acceptance (but see SEMANTIC_VALIDATION), missing_required_header,
    unsupported_method, allow_header_conformance and ignored_auth. (use_after_free,
    ensure_resource_availability and object_level_authorization are on too, but only have
    something to compare in a stateful run, which this is not.)
    """
    excluded = [positive_data_acceptance] if case.operation.label in SEMANTIC_VALIDATION else []
    if case.operation.label in ENDLESS_STREAMS and isinstance(case.query, dict):
        # `follow=true` streams a running container's logs until it stops, which a generated
        # id that happens to prefix the resident container's never does; test_containers.py
        # covers following. Every other parameter is still generated.
        case.query["follow"] = "false"
    if (
        case.operation.label == "PUT /api/v1/fleet"
        and isinstance(case.body, dict)
        and case.body.get("enabled") is True
    ):
        # An enabled client would poll whatever URL was generated: only loopback is ours. A
        # generated value of another type is left as it is, for the invalid variants.
        case.body["enabled"] = False
    case.call_and_validate(
        session=http,
        timeout=30,
        excluded_checks=excluded,
        additional_checks=[keeps_its_token(homei_process.token)],
    )


def test_document_is_valid_openapi_3_1(api_schema: OpenApiSchema) -> None:
    """Valid against the OpenAPI 3.1 meta-schema; every operation usable, named and secured."""
    api_schema.validate()
    raw = api_schema.raw_schema
    assert raw["openapi"] == "3.1.0"
    assert raw["info"]["title"] == "Homei API"
    assert raw["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert operations
    ids = [op.definition.raw.get("operationId") for op in operations]
    assert all(ids) and len(set(ids)) == len(ids), ids
    for operation in operations:
        definition = operation.definition.raw
        assert definition["security"] in ([], [{"bearerAuth": []}]), operation.label
        if definition["security"]:
            assert {"401", "403"} <= set(definition["responses"]), operation.label


async def test_document_matches_the_router(homei: Homei) -> None:
    """Every routed operation declared `in_schema` is in the served document, with its own
    operationId and security, and the document lists nothing else: the two cannot drift."""
    routed: dict[tuple[str, str], Endpoint] = {}
    for route in homei.client.app.router.routes():
        declared = endpoint_of(route.handler)
        if declared is not None and declared.in_schema and route.resource is not None:
            routed[(route.method.lower(), route.resource.canonical)] = declared
    response = await homei.client.get("/openapi.json")
    assert response.status == 200
    document = await response.json()
    served = {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert routed and set(served) == set(routed)
    for key, declared in routed.items():
        operation = served[key]
        assert operation["operationId"] == declared.operation_id
        assert operation["security"] == ([] if declared.is_public else [{"bearerAuth": []}]), key
        assert operation.get("x-permission") == (
            None if declared.is_public else str(declared.permission)
        ), key


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"])
def test_openapi_json_needs_no_token(homei_process: LiveHomei, authorization: str | None) -> None:
    """Public: served without a token, and a bad one does not get in the way."""
    request = urllib.request.Request(f"{homei_process.url}/openapi.json")
    if authorization:
        request.add_header("Authorization", authorization)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        assert response.headers.get_content_type() == "application/json"
        assert json.loads(response.read())["paths"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("since=2024-01-01T00:00:00Z", 200),
        ("limit=5&offset=0", 200),
        # Found by schemathesis: read as epoch seconds, though documented as a date-time.
        ("since=0.5", 400),
        ("since=1700000000", 400),
        # An integer written as a float, and a single value given twice.
        ("limit=1.0", 400),
        ("limit=1e2", 400),
        ("limit=5&limit=6", 400),
    ],
)
async def test_query_values_are_read_as_documented(homei: Homei, query: str, status: int) -> None:
    response = await homei.client.get(f"/api/v1/tasks?{query}", headers=await homei.auth())
    assert response.status == status, await response.text()


async def _served(homei: Homei) -> dict[str, Any]:
    response = await homei.client.get("/openapi.json")
    assert response.status == 200
    return dict(await response.json())


def _routed(homei: Homei) -> list[tuple[str, Endpoint]]:
    return [
        (route.resource.canonical, declared)
        for route in homei.client.app.router.routes()
        if route.resource is not None and (declared := endpoint_of(route.handler)) is not None
    ]


async def test_every_query_parameter_is_documented(homei: Homei) -> None:
    """Each operation lists every field of its query model (two models of one name, such as
    the two `UploadQuery`s and `LogQuery`s, once hid each other's parameters)."""
    document = await _served(homei)
    checked = 0
    for path, declared in _routed(homei):
        if declared.query is None or not declared.in_schema:
            continue
        info = msgspec.inspect.type_info(declared.query)
        assert isinstance(info, msgspec.inspect.StructType)
        operation = document["paths"][path][declared.method.lower()]
        documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert {f.encode_name for f in info.fields} <= documented, (declared.method, path)
        checked += 1
    assert checked >= 6
    bundles = document["paths"]["/api/v1/update/bundles"]["post"]["parameters"]
    assert [p["name"] for p in bundles] == ["filename"]
    assert "pattern" in json.dumps(bundles[0]["schema"])


async def test_websocket_routes_and_their_messages_are_documented(homei: Homei) -> None:
    """`x-websockets` holds every WebSocket route; `/ws/events` sends `EventMessage`s, one
    variant per registered event, each `data` with its payload's schema."""
    document = await _served(homei)
    sockets = document["x-websockets"]
    routed = {
        re.sub(r"{([^}:]+):[^}]*}", r"{\1}", path)
        for path, declared in _routed(homei)
        if declared.websocket is not None
    }
    assert routed == set(sockets) >= {"/ws/events"}
    assert all(path.startswith("/ws/") for path in routed)
    assert sockets["/ws/events"]["messages"] == {"$ref": "#/components/schemas/EventMessage"}
    assert {p["name"] for p in sockets["/ws/events"]["parameters"]} == {"types", "token"}
    schemas = document["components"]["schemas"]
    variants = schemas["EventMessage"]["oneOf"]
    assert {v["properties"]["type"]["const"] for v in variants} == {str(n) for n in EventName}
    for variant in variants:
        data = variant["properties"]["data"]
        assert data["$ref"].rsplit("/", 1)[1] in schemas
    task_progress = next(v for v in variants if v["properties"]["type"]["const"] == "task:progress")
    payload = schemas[task_progress["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
    assert {"taskId", "progress"} <= set(payload["required"])
    # The logs routes send plain text lines.
    assert sockets["/ws/services/{service_name}/logs"]["messages"] == {"type": "string"}
