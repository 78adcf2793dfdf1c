"""The event registry is the source of truth: every event published anywhere in homei/ is
registered, its literal payload fits the registered shape, and nothing registered is dead."""

from __future__ import annotations

import ast
import logging
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from homei.core.event_types import EVENTS, EventName, check_payload
from homei.core.events import EventBus
from homei.docker.containers import EVENT_ACTIONS

PACKAGE = Path(__file__).resolve().parents[2] / "homei"


@dataclass(frozen=True)
class Publication:
    where: str
    names: tuple[str, ...]
    keys: frozenset[str] | None  # None: not a literal dict (or one spreading another)


def _names(node: ast.expr) -> tuple[str, ...] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return (node.value,)
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "EventName"
    ):
        return (str(EventName[node.attr]),)
    if isinstance(node, ast.JoinedStr):
        prefix = "".join(
            part.value
            for part in node.values
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
        # The one computed name: Docker's container events, `container.<action>`.
        assert prefix == "container.", ast.unparse(node)
        return tuple(f"container.{action}" for action in sorted(EVENT_ACTIONS))
    return None


def _publications() -> list[Publication]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "publish"
                and node.args
            ):
                continue
            names = _names(node.args[0])
            if names is None:
                continue  # not the event bus (a catalog publishing a file, say)
            data = node.args[1] if len(node.args) > 1 else None
            keys = None
            if isinstance(data, ast.Dict) and all(isinstance(k, ast.Constant) for k in data.keys):
                keys = frozenset(str(k.value) for k in data.keys if isinstance(k, ast.Constant))
            found.append(Publication(f"{path.relative_to(PACKAGE)}:{node.lineno}", names, keys))
    return found


PUBLICATIONS = _publications()


def test_the_scan_sees_the_publishers() -> None:
    places = {p.where.split(":")[0] for p in PUBLICATIONS}
    assert {"core/tasks.py", "docker/containers.py", "update/gate.py"} <= places
    assert len(PUBLICATIONS) > 30


@pytest.mark.parametrize("publication", PUBLICATIONS, ids=lambda p: p.where)
def test_every_published_event_is_registered(publication: Publication) -> None:
    for name in publication.names:
        assert name in EVENTS, f"{publication.where}: {name!r} is not in core/event_types.py"


def _wire_fields(name: str) -> tuple[set[str], set[str]]:
    """(every field, the required fields) of an event's payload, by their wire names."""
    info = msgspec.inspect.type_info(EVENTS[EventName(name)])
    assert isinstance(info, msgspec.inspect.StructType)
    return {f.encode_name for f in info.fields}, {f.encode_name for f in info.fields if f.required}


@pytest.mark.parametrize(
    "publication", [p for p in PUBLICATIONS if p.keys is not None], ids=lambda p: p.where
)
def test_literal_payloads_fit_their_registered_shape(publication: Publication) -> None:
    assert publication.keys is not None
    for name in publication.names:
        fields, required = _wire_fields(name)
        assert publication.keys <= fields, f"{publication.where}: {publication.keys - fields}"
        assert required <= publication.keys, f"{publication.where}: {required - publication.keys}"


def test_nothing_registered_is_dead() -> None:
    published = {name for p in PUBLICATIONS for name in p.names}
    # `connected` opens every stream; the events API sends it, not the bus.
    assert set(EVENTS) - published == {EventName.CONNECTED}


def test_every_name_has_a_payload_and_names_stay_as_on_the_wire() -> None:
    assert set(EVENTS) == set(EventName)
    assert EventName.SERVICE_HEALTH_CHANGED == "service:health:changed"
    assert EventName.CONTAINER_DIE == "container.die"


def test_development_bus_warns_of_an_unregistered_or_misshapen_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus(check=check_payload)
    with caplog.at_level(logging.WARNING, "homei.core.events"):
        bus.publish("service:teleported", {"service": "web"})
        bus.publish("task:progress", {"taskId": "t1", "progress": "half"})
        bus.publish("task:progress", {"taskId": "t1", "progress": 50, "message": "halfway"})
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert "service:teleported" in warnings[0] and "progress" in warnings[1]
