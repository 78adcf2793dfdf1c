"""`homei alerts [--firing]` and `homei alerts ack ID` against a real daemon."""

from __future__ import annotations

import json

from tests.component.alerts.test_alerts_api import NOW, low_memory
from tests.component.test_cli import homei_cli
from tests.daemon_process import start_homei
from tests.processes import wait_for


def test_alerts_commands(tmp_path):
    (tmp_path / "device").mkdir()
    homei = start_homei(tmp_path / "device", HOMEI_MONITOR__INTERVAL="0.2")
    try:
        cli = lambda *args, **kw: homei_cli(tmp_path, *args, **kw)  # noqa: E731
        login = cli("login", "--url", homei.url, "--password-stdin", stdin=homei.admin_password)
        assert login.returncode == 0, login.stderr
        assert "ID" in cli("alerts").stdout  # the table's header, and no alert yet
        token = homei.login()
        crossed = {"thresholds": low_memory(), "rules": {"thresholds": {"memory": NOW}}}
        status, body = homei.request("POST", "/api/v1/alerts/settings", crossed, token)
        assert status == 200, body

        def firing() -> bool:
            status, body = homei.request("GET", "/api/v1/alerts?state=firing", token=token)
            return status == 200 and body["total"] > 0

        wait_for(firing, 30, lambda: AssertionError("no alert fired"))
        listed = cli("alerts", "--firing", "--json")
        assert listed.returncode == 0, listed.stderr
        alert = json.loads(listed.stdout)["alerts"][0]
        table = cli("alerts", "--firing").stdout
        assert alert["id"] in table and "Memory use" in table
        acked = cli("alerts", "ack", alert["id"], "--json")
        assert acked.returncode == 0, acked.stderr
        assert json.loads(acked.stdout)["acknowledgedBy"] == "admin"
        assert "admin" in cli("alerts", "--firing").stdout
        missing = cli("alerts", "ack", "alert-0")
        assert missing.returncode == 1 and "ALERT_NOT_FOUND" in missing.stderr
    finally:
        homei.stop()
