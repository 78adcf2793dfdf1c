"""The DDI answers the fleet client reads: polling sleep, action ids, the artefact it picks."""

from __future__ import annotations

import msgspec
import pytest

from homei.fleet.ddi import DeploymentBase, action_id_of, parse_sleep, status_body
from homei.fleet.deploy import pick_artefact


def deployment(*names: str) -> DeploymentBase:
    artefacts = [
        {"filename": n, "size": 1, "hashes": {"sha256": "0" * 64},
         "_links": {"download-http": {"href": f"http://127.0.0.1/{n}"}}}
        for n in names
    ]  # fmt: skip
    body = {"id": "3", "deployment": {"chunks": [{"version": "2.0", "artifacts": artefacts}]}}
    return msgspec.json.decode(msgspec.json.encode(body), type=DeploymentBase)


def test_sleep_is_hours_minutes_seconds():
    assert parse_sleep("00:05:00") == 300.0
    assert parse_sleep("01:00:01") == 3601.0
    for bad in ("5", "00:05", "aa:bb:cc", "-1:00:00", ""):
        with pytest.raises(ValueError, match="HH:MM:SS"):
            parse_sleep(bad)


def test_action_id_is_the_last_path_segment():
    href = "https://h/DEFAULT/controller/v1/dev/deploymentBase/42?c=-2129030598"
    assert action_id_of(href) == "42"


def test_the_bundle_is_picked_or_the_only_artefact():
    picked = pick_artefact(deployment("notes.txt", "os.raucb").deployment)
    assert picked is not None and picked[0].filename == "os.raucb" and picked[1] == "2.0"
    only = pick_artefact(deployment("firmware.bin").deployment)
    assert only is not None and only[0].filename == "firmware.bin"
    assert pick_artefact(deployment("a.bin", "b.bin").deployment) is None


def test_feedback_body_has_the_ddi_shape():
    body = status_body("proceeding", "none", ["half"], (50, 100))
    assert body == {
        "status": {
            "execution": "proceeding",
            "result": {"finished": "none", "progress": {"cnt": 50, "of": 100}},
            "details": ["half"],
        }
    }
