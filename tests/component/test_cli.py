"""The `homei` command against a real daemon and a real database."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time

import pytest

from tests.conftest import clean_environ, homei_command
from tests.daemon_process import start_homei


def homei_cli(
    tmp_path, *args: str, stdin: str = "", **environ: str
) -> subprocess.CompletedProcess[str]:
    env = clean_environ(XDG_CONFIG_HOME=str(tmp_path / "config"), **environ)
    return subprocess.run(
        [*homei_command(), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def daemon(tmp_path):
    homei = start_homei(tmp_path)
    yield homei
    homei.stop()


def test_offline_user_management(tmp_path):
    data = ["--data-dir", str(tmp_path / "data"), "--config", str(tmp_path / "none.toml")]
    (tmp_path / "none.toml").write_text("")
    result = homei_cli(
        tmp_path,
        "user",
        "add",
        "olga",
        "--role",
        "operator",
        "--password-stdin",
        *data,
        stdin="first-password\n",
    )
    assert result.returncode == 0, result.stderr
    result = homei_cli(tmp_path, "user", "list", "--json", *data)
    users = {u["username"]: u["role"] for u in json.loads(result.stdout)["users"]}
    assert users == {"olga": "operator"}
    result = homei_cli(
        tmp_path, "user", "add", "olga", "--password-stdin", *data, stdin="other-password\n"
    )
    assert result.returncode == 1 and "CONFLICT" in result.stderr
    result = homei_cli(tmp_path, "user", "add", "x", "--password-stdin", *data, stdin="short\n")
    assert result.returncode == 1 and "at least 8" in result.stderr
    result = homei_cli(
        tmp_path, "user", "passwd", "nobody", "--password-stdin", *data, stdin="whatever-password\n"
    )
    assert result.returncode == 1 and "USER_NOT_FOUND" in result.stderr


def test_login_status_and_tasks(tmp_path, daemon):
    result = homei_cli(
        tmp_path,
        "login",
        "--url",
        daemon.url,
        "--password-stdin",
        stdin=daemon.admin_password + "\n",
    )
    assert result.returncode == 0, result.stderr
    credentials = tmp_path / "config" / "homei" / "credentials.json"
    assert stat.S_IMODE(os.stat(credentials).st_mode) == 0o600
    assert json.loads(credentials.read_text())["url"] == daemon.url

    result = homei_cli(tmp_path, "status")
    assert result.returncode == 0, result.stderr
    assert "healthy" in result.stdout and "database" in result.stdout
    result = homei_cli(tmp_path, "status", "--json")
    body = json.loads(result.stdout)
    assert body["health"]["dependencies"]["database"]["status"] == "healthy"
    assert body["system"]["cpu_count"] >= 1

    result = homei_cli(tmp_path, "tasks", "--json")
    assert json.loads(result.stdout)["total"] == 0


def test_wrong_password_login_fails_cleanly(tmp_path, daemon):
    result = homei_cli(
        tmp_path, "login", "--url", daemon.url, "--password-stdin", stdin="not-the-password\n"
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "homei: UNAUTHORIZED: Invalid username or password"


def test_api_keys_from_the_cli(tmp_path, daemon):
    homei_cli(
        tmp_path,
        "login",
        "--url",
        daemon.url,
        "--password-stdin",
        stdin=daemon.admin_password + "\n",
    )
    created = json.loads(
        homei_cli(tmp_path, "apikey", "create", "scraper", "--role", "metrics", "--json").stdout
    )
    status, text = daemon.request("GET", "/metrics", token=created["key"])
    assert status == 200 and "api_requests_total" in text
    listed = json.loads(homei_cli(tmp_path, "apikey", "list", "--json").stdout)
    assert [k["name"] for k in listed["keys"]] == ["scraper"]
    assert homei_cli(tmp_path, "apikey", "revoke", created["id"]).returncode == 0
    assert daemon.request("GET", "/metrics", token=created["key"])[0] == 401


def test_offline_password_change_revokes_tokens_of_the_running_daemon(tmp_path, daemon):
    token = daemon.login()
    assert daemon.request("GET", "/api/v1/auth/me", token=token)[0] == 200
    result = homei_cli(
        tmp_path,
        "user",
        "passwd",
        "admin",
        "--password-stdin",
        "--data-dir",
        str(daemon.data_dir),
        "--config",
        str(tmp_path / "none.toml"),
        stdin="a-new-password\n",
    )
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 10
    while daemon.request("GET", "/api/v1/auth/me", token=token)[0] != 401:
        assert time.monotonic() < deadline, "old token still accepted"
        time.sleep(0.1)
    status, _ = daemon.request(
        "POST", "/api/v1/auth/login", {"username": "admin", "password": "a-new-password"}
    )
    assert status == 200


def test_expired_access_token_is_refreshed(tmp_path):
    homei = start_homei(tmp_path, HOMEI_AUTH__ACCESS_TOKEN_TTL="1")
    try:
        result = homei_cli(
            tmp_path,
            "login",
            "--url",
            homei.url,
            "--password-stdin",
            stdin=homei.admin_password + "\n",
        )
        assert result.returncode == 0, result.stderr
        credentials = tmp_path / "config" / "homei" / "credentials.json"
        first = json.loads(credentials.read_text())["access_token"]
        deadline = time.monotonic() + 10
        while homei.request("GET", "/api/v1/auth/me", token=first)[0] != 401:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        result = homei_cli(tmp_path, "tasks", "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(credentials.read_text())["access_token"] != first
    finally:
        homei.stop()


def test_unreachable_daemon_is_a_clear_error(tmp_path):
    result = homei_cli(tmp_path, "status", "--url", "http://127.0.0.1:9")
    assert result.returncode == 1
    assert result.stderr.startswith("homei: cannot reach the daemon")
