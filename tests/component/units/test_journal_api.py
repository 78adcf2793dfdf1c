"""`GET /api/v1/logs` through a real `homei serve` reading a real journald's folder."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import journald_env
from tests.daemon_process import HomeiProcess, start_homei
from tests.journald_env import JournaldEnv, unit_name

pytestmark = pytest.mark.skipif(
    journald_env.available() is not None, reason=str(journald_env.available())
)


@pytest.fixture(scope="module")
def journald(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JournaldEnv]:
    env = JournaldEnv(tmp_path_factory.mktemp("journald") / "journal")
    env.start()
    yield env
    env.stop()


@pytest.fixture(scope="module")
def homei(
    tmp_path_factory: pytest.TempPathFactory, journald: JournaldEnv
) -> Iterator[tuple[HomeiProcess, str]]:
    daemon = start_homei(
        tmp_path_factory.mktemp("homei"), HOMEI_UNITS__JOURNAL_DIR=str(journald.directory)
    )
    try:
        yield daemon, daemon.login()
    finally:
        daemon.stop()


def _get(homei: tuple[HomeiProcess, str], **query: object) -> tuple[int, dict]:
    daemon, token = homei
    status, body = daemon.request(
        "GET", "/api/v1/logs?" + urllib.parse.urlencode(query), token=token
    )
    return status, body


def test_a_units_entries_newest_first_in_002s_shape(homei, journald: JournaldEnv) -> None:
    unit = unit_name()
    journald.log("svc", ["started", "listening"], unit=unit)
    journald.log("svc", ["disk full"], unit=unit, priority="err")
    journald.log("other", ["elsewhere"])

    status, body = _get(homei, unit=unit)
    assert status == 200, body
    logs = body["logs"]
    assert [e["message"] for e in logs] == ["disk full", "listening", "started"]
    assert logs[0]["level"] == "error" and logs[1]["level"] == "info"
    assert {e["unit"] for e in logs} == {unit}
    assert set(logs[0]) == {"timestamp", "level", "message", "unit", "identifier", "cursor"}

    status, body = _get(homei, unit=unit, level="error")
    assert [e["message"] for e in body["logs"]] == ["disk full"]
    status, body = _get(homei, unit=unit, limit=1)
    assert [e["message"] for e in body["logs"]] == ["disk full"]
    status, body = _get(homei, unit=unit, cursor=logs[2]["cursor"])
    assert [e["message"] for e in body["logs"]] == ["disk full", "listening"]

    status, body = _get(homei)
    assert "elsewhere" in [e["message"] for e in body["logs"]]


def test_follow_streams_new_entries_as_json_lines(homei, journald: JournaldEnv) -> None:
    daemon, token = homei
    unit = unit_name()
    journald.log("svc", ["before"], unit=unit)
    request = urllib.request.Request(
        f"{daemon.url}/api/v1/logs?follow=true&limit=1&unit={unit}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers.get_content_type() == "application/x-ndjson"
        assert json.loads(response.readline())["message"] == "before"
        journald.log("svc", ["after"], unit=unit)
        entry = json.loads(response.readline())
        assert entry["message"] == "after" and entry["unit"] == unit


def test_bad_input_is_refused_in_the_envelope(homei) -> None:
    status, body = _get(homei, cursor="s=nothing")
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR", body
    status, body = _get(homei, level="loud")
    assert status == 400, body
    status, body = _get(homei, unit="a b")
    assert status == 400, body


def test_an_unreadable_journal_is_503(tmp_path: Path) -> None:
    daemon = start_homei(tmp_path, HOMEI_UNITS__JOURNAL_DIR=str(tmp_path / "absent"))
    try:
        status, body = daemon.request("GET", "/api/v1/logs", token=daemon.login())
        assert status == 503 and body["error"]["code"] == "JOURNAL_UNAVAILABLE", body
    finally:
        daemon.stop()
