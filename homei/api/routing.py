"""Declaring endpoints: each handler states its route, models, permission and
rate-limit group once, above the function; routing, validation, the OpenAPI
document and the access policy are all derived from that one declaration."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from homei.core.auth import Permission
from homei.core.errors import PayloadTooLarge, UnsupportedMediaType, ValidationError

Handler = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=Handler)

ENDPOINT_ATTR = "__homei_endpoint__"
_PARAMETER_REGEX = re.compile(r":[^}]*}")
MAX_BODY_SIZE = web.AppKey("max_body_size", int)
JSON = "application/json"


class Endpoint(msgspec.Struct, frozen=True):
    """Everything known about one operation."""

    method: str
    path: str
    summary: str
    tag: str
    permission: Permission | None
    group: str | None = None
    body: Any = None
    query: type[msgspec.Struct] | None = None
    response: Any = None
    status: int = 200
    content_type: str = JSON
    path_params: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    errors: tuple[int, ...] = ()
    in_schema: bool = True
    token_in_query: bool = False
    body_optional: bool = False
    upload: str | None = None
    description: str = ""
    # A WebSocket route: the type of the messages the server sends on it.
    websocket: Any = None

    @property
    def is_public(self) -> bool:
        """True for routes anyone may call without a token."""
        return self.permission is None

    @property
    def operation_id(self) -> str:
        """A stable id for the OpenAPI document, from the path without its parameters' regexes."""
        cleaned = _PARAMETER_REGEX.sub("}", self.path).replace("/api/v1/", "/").strip("/")
        for char in "/{}-.":
            cleaned = cleaned.replace(char, "_")
        return f"{self.method.lower()}_{cleaned.strip('_') or 'root'}".replace("__", "_")


def endpoint(
    method: str, path: str, *, summary: str, tag: str, permission: Permission | None, **options: Any
) -> Callable[[F], F]:
    """Declare a handler method as an API operation."""

    def decorate(func: F) -> F:
        doc = inspect.getdoc(func) or ""
        setattr(
            func,
            ENDPOINT_ATTR,
            Endpoint(method.upper(), path, summary, tag, permission, description=doc, **options),
        )
        return func

    return decorate


def endpoint_of(handler: Any) -> Endpoint | None:
    """The declaration behind a routed handler, if it has one."""
    return getattr(handler, ENDPOINT_ATTR, None)


def encode(value: Any) -> bytes:
    """JSON for a response model, dataclass, dict or list."""
    return msgspec.json.encode(value)


def json_response(
    value: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response from any encodable value."""
    return web.Response(body=encode(value), status=status, content_type=JSON, headers=headers)


def _field_error(err: msgspec.ValidationError, where: str) -> ValidationError:
    text = str(err)
    message, _, path = text.rpartition(" - at `$")
    if not message:
        message, path = text, ""
    location = path.rstrip("`").lstrip(".")
    field_path = f"{where}.{location}" if location else where
    return ValidationError(
        f"Invalid {field_path}: {message}", {"fields": [{"path": field_path, "message": message}]}
    )


def is_json(content_type: str) -> bool:
    """True for `application/json` and the `+json` types (`application/merge-patch+json`)."""
    kind, _, subtype = content_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


async def read_body(request: web.Request, model: Any) -> Any:
    """The request's JSON body decoded into `model`; 400/413/415 in the error envelope
    otherwise."""
    if not is_json(request.content_type):
        raise UnsupportedMediaType(
            f"Expected a JSON body (Content-Type: {JSON}), got {request.content_type}",
            {"expected": JSON, "received": request.content_type},
        )
    limit = request.app[MAX_BODY_SIZE]
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"Request body exceeds {limit} bytes", {"limit": limit})
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"Request body exceeds {limit} bytes", {"limit": limit}) from None
    if not raw.strip():
        raise ValidationError(
            "A JSON request body is required", {"fields": [{"path": "body", "message": "missing"}]}
        )
    try:
        return msgspec.json.decode(raw, type=model)
    except msgspec.ValidationError as err:
        raise _field_error(err, "body") from None
    except msgspec.DecodeError as err:
        raise _malformed(str(err)) from None
    except UnicodeDecodeError:
        raise _malformed("the body is not valid UTF-8") from None
    except RecursionError:
        raise _malformed("nested too deeply") from None


def _malformed(reason: str) -> ValidationError:
    return ValidationError(
        f"Malformed JSON: {reason}", {"fields": [{"path": "body", "message": reason}]}
    )


_SCALARS = (msgspec.inspect.IntType, msgspec.inspect.FloatType, msgspec.inspect.BoolType)


def _unwrap(kind: msgspec.inspect.Type) -> list[msgspec.inspect.Type]:
    """The types a field may take, without constraints, `None` or list wrapping."""
    if isinstance(kind, msgspec.inspect.Metadata):
        return _unwrap(kind.type)
    if isinstance(kind, msgspec.inspect.UnionType):
        return [t for member in kind.types for t in _unwrap(member)]
    if isinstance(kind, msgspec.inspect.ListType):
        return _unwrap(kind.item_type)
    return [] if isinstance(kind, msgspec.inspect.NoneType) else [kind]


def _is_list(kind: msgspec.inspect.Type) -> bool:
    """True for a field given as a repeated parameter."""
    if isinstance(kind, msgspec.inspect.Metadata):
        return _is_list(kind.type)
    if isinstance(kind, msgspec.inspect.UnionType):
        return any(_is_list(member) for member in kind.types)
    return isinstance(kind, msgspec.inspect.ListType)


@functools.cache
def _query_fields(model: type[msgspec.Struct]) -> dict[str, tuple[bool, bool]]:
    """Field name -> (takes a list (repeated parameter), is written as a number or boolean)."""
    info = msgspec.inspect.type_info(model)
    assert isinstance(info, msgspec.inspect.StructType)
    return {
        f.encode_name: (_is_list(f.type), any(isinstance(t, _SCALARS) for t in _unwrap(f.type)))
        for f in info.fields
    }


def _scalar(text: str) -> Any:
    """A number or boolean spelled as in JSON; anything else stays text, for the type to reject."""
    if text != text.strip():
        return text
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text
    return value if isinstance(value, int | float) else text


def read_query(request: web.Request, model: type[msgspec.Struct]) -> Any:
    """The query string decoded into `model`: numbers and booleans as in JSON, other values
    (text, enums, RFC 3339 date-times) as given; never a looser reading such as epoch seconds."""
    raw: dict[str, Any] = {}
    query = request.query
    for name, (is_list, is_scalar) in _query_fields(model).items() if query else ():
        if name not in query:
            continue
        values = query.getall(name)
        if not is_list and len(values) > 1:
            message = f"Expected one value, got {len(values)}"
            raise ValidationError(
                f"Invalid query.{name}: {message}",
                {"fields": [{"path": f"query.{name}", "message": message}]},
            )
        if is_scalar:
            values = [_scalar(v) for v in values]
        raw[name] = values if is_list else values[0]
    try:
        return msgspec.convert(raw, model)
    except msgspec.ValidationError as err:
        raise _field_error(err, "query") from None


def bind(api: object) -> list[tuple[Endpoint, Handler]]:
    """The declared operations of an API object, as (declaration, aiohttp handler) pairs."""
    bound: list[tuple[Endpoint, Handler]] = []
    # Definition order, so a static path ("/tasks/types") is routed before a variable one.
    for name in vars(type(api)):
        method = getattr(api, name)
        declaration = endpoint_of(method)
        if declaration is None:
            continue
        bound.append((declaration, _adapt(declaration, method)))
    return bound


def _adapt(declaration: Endpoint, method: Handler) -> Handler:
    wants = inspect.signature(method).parameters
    # Decided once here, not on every request.
    query_model = declaration.query if "query" in wants else None
    wants_body = declaration.body is not None and "body" in wants

    async def handle(request: web.Request) -> web.StreamResponse:
        kwargs: dict[str, Any] = {}
        if query_model is not None:
            kwargs["query"] = read_query(request, query_model)
        if wants_body:
            if declaration.body_optional and not request.body_exists:
                kwargs["body"] = msgspec.json.decode(b"{}", type=declaration.body)
            else:
                kwargs["body"] = await read_body(request, declaration.body)
        result = await method(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        return json_response(result, declaration.status)

    setattr(handle, ENDPOINT_ATTR, declaration)
    handle.__name__ = method.__name__
    return handle


def register(app: web.Application, apis: Iterable[object]) -> list[Endpoint]:
    """Add every declared operation of `apis` to the app's router."""
    declared: list[Endpoint] = []
    for api in apis:
        for declaration, handler in bind(api):
            app.router.add_route(declaration.method, declaration.path, handler)
            declared.append(declaration)
    return declared
