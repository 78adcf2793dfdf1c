"""The settings file written back reads back as exactly what was written."""

from __future__ import annotations

import tomllib

import pytest

from homei.config.toml_file import dumps


def test_every_shape_settings_use_round_trips() -> None:
    data = {
        "log_level": "debug",
        "rate_limits": {"anonymous": 5, "enabled": False, "window": 60},
        "update": {"gate_window": 120.5},
        "services": {"trusted": ["a", "b"], "bind_roots": []},
        "backup": {"schedules": [{"name": "nightly", "cron": "0 3 * * *", "services": ["x"]},
                                 {"name": "hourly", "interval": 3600.0}]},
        "device": {"variables": {"QUOTED": 'say "hi"\\ \n\ttab', "UNICODE": "é €",
                                 "CONTROL": "\x01\x7f", "EMPTY": ""},
                   "domain": "device.example.com"},
        "odd key.with dots": {"ok": True},
    }  # fmt: skip
    assert tomllib.loads(dumps(data)) == data


def test_values_toml_cannot_hold_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        dumps({"x": float("nan")})
    with pytest.raises(TypeError):
        dumps({"x": object()})
