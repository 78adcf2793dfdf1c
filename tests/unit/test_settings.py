"""Settings: embedded defaults, then the file, then HOMEI_*, then flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from homei.cli import main
from homei.settings import parse_listen
from homei.settings_layers import SettingsError, checkout_dir, load_settings

SCHEDULE = "[[backup.schedules]]\nname = 'nightly'\ncron = '{}'\n"


def load(tmp_path: Path, toml: str = "", **environ: str):
    config = tmp_path / "homei.toml"
    config.write_text(toml)
    return load_settings(config=config, environ={"HOMEI_MODE": "development", **environ})


def test_development_defaults(tmp_path):
    settings = load(tmp_path)
    assert settings.mode == "development"
    assert settings.api.listen == "127.0.0.1:8080"
    assert settings.data_dir == checkout_dir() / "var"
    assert settings.rate_limits.anonymous == 10
    assert settings.rate_limits.authenticated == 100
    assert settings.rate_limits.admin == 1000
    assert settings.auth.access_token_ttl == 3600


def test_device_defaults(tmp_path):
    config = tmp_path / "homei.toml"
    config.write_text("")
    settings = load_settings(config=config, environ={"HOMEI_MODE": "device"})
    assert settings.api.listen == "0.0.0.0:8080"
    assert settings.data_dir == Path("/var/lib/homei")


def test_layers_in_order(tmp_path):
    toml = "log_level = 'debug'\n[api]\nlisten = '127.0.0.1:1000'\n[rate_limits]\nadmin = 5\n"
    settings = load(tmp_path, toml)
    assert (settings.api.listen, settings.log_level, settings.rate_limits.admin) == (
        "127.0.0.1:1000",
        "debug",
        5,
    )
    settings = load(
        tmp_path,
        toml,
        HOMEI_LISTEN="127.0.0.1:2000",
        HOMEI_DATA_DIR=str(tmp_path),
        HOMEI_RATE_LIMITS__ADMIN="7",
    )
    assert (settings.api.listen, settings.data_dir, settings.rate_limits.admin) == (
        "127.0.0.1:2000",
        tmp_path,
        7,
    )
    flagged = load_settings(
        config=tmp_path / "homei.toml",
        listen="127.0.0.1:3000",
        data_dir=tmp_path / "x",
        environ={"HOMEI_MODE": "development", "HOMEI_LISTEN": "127.0.0.1:2000"},
    )
    assert flagged.api.listen == "127.0.0.1:3000" and flagged.data_dir == tmp_path / "x"
    assert (flagged.host, flagged.port) == ("127.0.0.1", 3000)


def test_config_path_from_environment(tmp_path):
    config = tmp_path / "custom.toml"
    config.write_text("[api]\nlisten = '127.0.0.1:4000'\n")
    settings = load_settings(environ={"HOMEI_MODE": "development", "HOMEI_CONFIG": str(config)})
    assert settings.api.listen == "127.0.0.1:4000"


@pytest.mark.parametrize(
    ("toml", "environ", "message"),
    [
        ("[api]\nport = 1\n", {}, "homei.toml: api.port: unknown setting"),
        ("", {"HOMEI_NOPE": "1"}, "environment (HOMEI_*): nope: unknown setting"),
        ("", {"HOMEI_MODE": "cloud"}, "HOMEI_MODE: expected 'device' or 'development'"),
        ("mode = 'device'\n", {}, "homei.toml: mode: set it with HOMEI_MODE only"),
        ("[auth]\naccess_token_ttl = -1\n", {}, "auth.access_token_ttl: expected `int` >= 1"),
        (SCHEDULE.format("30 25 * * *"), {}, "backup.schedules[0]: cron: '25' is outside 0-23"),
        (SCHEDULE.format("30 3 * *"), {}, "schedules[0]: cron: expected 5 cron fields, got 4"),
        (SCHEDULE.format("x 3 * * *"), {}, "schedules[0]: cron: 'x' is not a number"),
        (SCHEDULE.format("*/0 3 * * *"), {}, "schedules[0]: cron: '*/0' has a step below 1"),
        (SCHEDULE.format("0 0 31 2 *"), {}, "schedules[0]: cron: the cron expression never"),
    ],
)
def test_errors_name_source_key_and_problem(tmp_path, toml, environ, message):
    with pytest.raises(SettingsError) as raised:
        load(tmp_path, toml, **environ)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_good_cron_loads(tmp_path):
    settings = load(tmp_path, SCHEDULE.format("30 3 * * 1-5") + "[[backup.schedules]]\n")
    assert [s.cron for s in settings.backup.schedules] == ["30 3 * * 1-5", ""]


def test_serve_stops_on_a_bad_cron_with_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys):
    config = tmp_path / "homei.toml"
    config.write_text(SCHEDULE.format("61 * * * *"))
    monkeypatch.setenv("HOMEI_MODE", "development")
    assert main(["serve", "--config", str(config), "--data-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "backup.schedules[0]: cron: '61' is outside 0-59" in error


@pytest.mark.parametrize("value", ["8080", "host:", ":80", "host:0", "host:65536", "h:x"])
def test_bad_listen(value):
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen(value)


def test_ipv6_listen():
    assert parse_listen("[::1]:8080") == ("::1", 8080)
