"""The OpenAPI document, generated from the endpoints' own declarations and models,
so it cannot drift from the code that serves it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

import homei
from homei.api.models import ErrorEnvelope
from homei.api.routing import JSON, Endpoint
from homei.core.event_types import EVENTS, EventMessage

REF = "#/components/schemas/{name}"
_PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No content",
    400: "Invalid request (VALIDATION_ERROR with the field paths)",
    401: "Missing or invalid credentials (UNAUTHORIZED)",
    403: "The caller's role lacks the permission (FORBIDDEN)",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Request body too large (PAYLOAD_TOO_LARGE)",
    415: "The body is not JSON (UNSUPPORTED_MEDIA_TYPE)",
    429: "Rate limit exceeded (RATE_LIMITED); see Retry-After",
    500: "Internal error (INTERNAL_ERROR)",
    503: "A dependency is unavailable",
}


def _error_statuses(declared: Endpoint) -> list[int]:
    statuses = {429, 500, *declared.errors}
    if declared.body is not None or declared.upload is not None:
        statuses |= {400, 413}
    if declared.body is not None:
        statuses.add(415)
    if declared.query is not None:
        statuses.add(400)
    if not declared.is_public:
        statuses |= {401, 403}
    if _PATH_PARAM.search(declared.path):
        statuses.add(404)
    return sorted(statuses)


def _template(path: str) -> str:
    """An aiohttp route path as an OpenAPI path template (`{name}`, without its regex)."""
    return _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _component(ref: dict[str, Any]) -> str:
    """The component name behind a `$ref` (qualified by module when two models share one)."""
    return str(ref["$ref"]).rsplit("/", 1)[1]


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if prop.get("type") == "array":
            parameter["style"] = "form"
            parameter["explode"] = True
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


# OpenAPI links: what a creating operation answers names the resource that other operations
# take as a path parameter (parameter <- response field). Clients and schemathesis's stateful
# runs follow them from a create to its reads, updates and deletes. Only creates whose
# resource exists once they answer: a backup or service accepted with 202 appears when its
# task is done, and its task (`taskId`) is what to follow then.
LINKS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/api/v1/users"): {"username": "username"},
    ("POST", "/api/v1/auth/keys"): {"key_id": "id"},
    ("POST", "/api/v1/tasks"): {"task_id": "id"},
    ("POST", "/api/v1/backups/upload"): {"backup_name": "name"},
    ("POST", "/api/v1/update/bundles"): {"name": "name"},
}


def _links(source: Endpoint, declared: list[Endpoint]) -> dict[str, Any]:
    """The links from `source`'s answer to the operations on what it created."""
    fields = LINKS.get((source.method, _template(source.path)), {})
    collection = "/".join(_template(source.path).split("/")[:4])
    links: dict[str, Any] = {}
    for target in declared:
        path = _template(target.path)
        if target is source or not path.startswith(collection + "/"):
            continue
        wanted = set(_PATH_PARAM.findall(target.path))
        if wanted and wanted <= set(fields):
            links[target.operation_id] = {
                "operationId": target.operation_id,
                "parameters": {name: f"$response.body#/{fields[name]}" for name in wanted},
            }
    return links


SchemaRefinement = Callable[[dict[str, Any]], None]


def build_document(
    endpoints: Iterable[Endpoint],
    *,
    title: str = "Homei API",
    refine: Iterable[SchemaRefinement] = (),
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for `endpoints`; each of `refine` may tighten the component
    schemas with what is only known at run time (the registered task kinds, say)."""
    everything = list(endpoints)
    declared = [e for e in everything if e.in_schema]
    sockets = [e for e in everything if e.websocket is not None]
    models: list[Any] = [ErrorEnvelope, *EVENTS.values()]
    for item in [*declared, *sockets]:
        models.extend(m for m in (item.body, item.query, item.response) if m is not None)
        if item.websocket not in (None, EventMessage):
            models.append(item.websocket)
    unique = list(dict.fromkeys(models))
    refs, schemas = msgspec.json.schema_components(unique, ref_template=REF)
    ref_of = dict(zip(unique, refs, strict=True))
    query_models = {item.query for item in [*declared, *sockets] if item.query is not None}

    paths: dict[str, dict[str, Any]] = {}
    for item in sorted(declared, key=lambda e: (e.path, e.method)):
        operation: dict[str, Any] = {
            "operationId": item.operation_id,
            "summary": item.summary,
            "tags": [item.tag],
            "security": [] if item.is_public else [{"bearerAuth": []}],
        }
        if item.description:
            operation["description"] = item.description
        if not item.is_public:
            operation["x-permission"] = str(item.permission)
        if item.group:
            operation["x-rate-limit-group"] = item.group
        parameters: list[dict[str, Any]] = []
        for name in _PATH_PARAM.findall(item.path):
            schema = item.path_params.get(name, {"type": "string", "minLength": 1})
            parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
        if item.query is not None:
            parameters.extend(_query_parameters(schemas[_component(ref_of[item.query])]))
        if parameters:
            operation["parameters"] = parameters
        if item.body is not None:
            operation["requestBody"] = {
                "required": not item.body_optional,
                "content": {JSON: {"schema": ref_of[item.body]}},
            }
        elif item.upload is not None:
            operation["requestBody"] = {
                "required": True,
                # An empty upload is never a bundle, backup or image.
                "content": {
                    item.upload: {"schema": {"type": "string", "format": "binary", "minLength": 1}}
                },
            }
        success: dict[str, Any] = {"description": _STATUS_TEXT.get(item.status, "OK")}
        if links := _links(item, declared):
            success["links"] = links
        if item.response is not None:
            success["content"] = {item.content_type: {"schema": ref_of[item.response]}}
        elif item.content_type != JSON:
            success["content"] = {item.content_type: {"schema": {"type": "string"}}}
        responses: dict[str, Any] = {str(item.status): success}
        for status in _error_statuses(item):
            responses[str(status)] = {
                "description": _STATUS_TEXT.get(status, "Error"),
                "content": {JSON: {"schema": ref_of[ErrorEnvelope]}},
            }
        operation["responses"] = responses
        paths.setdefault(_template(item.path), {})[item.method.lower()] = operation

    for refinement in refine:
        refinement(schemas)
    websockets = {_template(item.path): _websocket(item, schemas, ref_of) for item in sockets}
    schemas["EventMessage"] = _event_message(ref_of)
    for model in query_models:
        if model not in (i.body for i in declared) and model not in (i.response for i in declared):
            schemas.pop(_component(ref_of[model]), None)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": homei.__version__,
            "description": (
                "The local API of a Homei device: its apps, OS updates, backups, monitoring, "
                "configuration and jobs. Every error is "
                '`{"error": {"code", "message", "details"}, "timestamp"}`. '
                "The WebSocket routes and the messages they send are under `x-websockets`; "
                "every event of `/ws/events` is an `EventMessage`."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "x-websockets": websockets,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT access token or hk_ API key",
                }
            },
        },
    }


def _event_message(ref_of: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    """`{type, data, timestamp, seq}`, with `data` shaped by `type`, for every registered event."""
    variants = [
        {
            "type": "object",
            "title": str(name),
            "required": ["type", "data", "timestamp", "seq"],
            "properties": {
                "type": {"const": str(name)},
                "data": ref_of[payload],
                "timestamp": {"type": "string", "format": "date-time"},
                "seq": {"type": "integer", "minimum": 0},
            },
        }
        for name, payload in EVENTS.items()
    ]
    return {
        "description": "A message of `/ws/events`; `seq` rises by one per event published.",
        "oneOf": variants,
    }


def _websocket(
    item: Endpoint, schemas: dict[str, Any], ref_of: dict[Any, dict[str, Any]]
) -> dict[str, Any]:
    """A WebSocket route: how to open it and what the server sends on it."""
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": item.path_params.get(name, {"type": "string", "minLength": 1}),
        }
        for name in _PATH_PARAM.findall(item.path)
    ]
    if item.query is not None:
        parameters.extend(_query_parameters(schemas[_component(ref_of[item.query])]))
    if item.token_in_query:
        parameters.append(
            {
                "name": "token",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "The access token, for clients that cannot set a header",
            }
        )
    messages = (
        {"$ref": REF.format(name="EventMessage")}
        if item.websocket is EventMessage
        else ref_of[item.websocket]
    )
    return {
        "summary": item.summary,
        "description": item.description,
        "x-permission": str(item.permission) if item.permission else None,
        "parameters": parameters,
        "messages": messages,
    }
