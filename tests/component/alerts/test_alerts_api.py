"""`/api/v1/alerts` over real HTTP on the machine's real figures: a threshold crossed by
lowering it, delivered once per change to a real aiohttp webhook receiver (signed) and to a
real SMTP server (aiosmtpd, STARTTLS and login); acknowledge; filters and paging; settings
checked as a whole."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ssl
import subprocess
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

from tests.component.alerts.receiver import Receiver
from tests.component.services.env import until
from tests.conftest import OPEN_LIMITS
from tests.daemon_process import free_port

FAST = OPEN_LIMITS + "[monitor]\ninterval = 0.2\n[alerts]\nretry_first = 0.2\nretry_max = 1.0\n"
NOW = {"for": 0, "hysteresis": 0}


def low_memory(line: float = 1.0) -> dict[str, Any]:
    """Thresholds that today's memory use crosses (and the rest never does)."""
    never = {"warning": 100, "critical": 100}
    return {
        "cpu": never, "disk": never, "swap": never, "inodes": never,
        "temperature": {"warning": 200, "critical": 200},
        "memory": {"warning": line, "critical": 100},
    }  # fmt: skip


async def post_settings(homei, headers, body, status=200) -> dict[str, Any]:
    response = await homei.client.post("/api/v1/alerts/settings", json=body, headers=headers)
    answer = await response.json()
    assert response.status == status, answer
    return answer


async def alerts(homei, headers, **query) -> dict[str, Any]:
    response = await homei.client.get("/api/v1/alerts", params=query, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_threshold_lowered_fires_notifies_once_and_resolves(make_homei, aiohttp_server):
    receiver = Receiver()
    server = await aiohttp_server(receiver.app())
    homei = await make_homei(FAST)
    admin = await homei.auth()
    viewer = await homei.add_user("vic", "viewer")
    settings = await post_settings(homei, admin, {
        "thresholds": low_memory(),
        "rules": {"thresholds": {"memory": NOW}},
        "notifications": {"desktop": True, "minLevel": "warning", "webhook": {
            "url": str(server.make_url("/hook")), "secret": "s3cret-value"}},
    })  # fmt: skip
    assert settings["notifications"]["webhook"]["hasSecret"] is True
    assert "s3cret" not in str(settings)
    refused = await homei.client.post("/api/v1/alerts/settings", json={}, headers=viewer)
    assert refused.status == 403

    firing = await until(lambda: receiver.with_change("firing"), "the firing webhook")
    alert = firing[0]["alert"]
    assert alert["rule"] == "memory.warning" and alert["level"] == "warning"
    assert alert["source"] == "system" and alert["details"]["threshold"] == 1.0
    body, headers = receiver.raw[0]
    expected = "sha256=" + hmac.new(b"s3cret-value", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Homei-Signature"], expected)

    listed = await alerts(homei, viewer, state="firing")
    assert [a["id"] for a in listed["alerts"]] == [alert["id"]] and listed["total"] == 1

    # Raised again, the figure is far below: resolved, and announced once.
    await post_settings(homei, admin, {"thresholds": low_memory(100)})
    resolved = await until(lambda: receiver.with_change("resolved"), "the resolved webhook")
    assert resolved[0]["alert"]["id"] == alert["id"] and resolved[0]["alert"]["resolvedAt"]
    await until(lambda: homei.components.deliverer.delivered >= 2, "both deliveries")
    assert [m["change"] for m in receiver.messages] == ["firing", "resolved"]
    assert (await alerts(homei, viewer, state="resolved"))["total"] == 1
    # The stored secret stays when left out, and is never answered.
    kept = await post_settings(homei, admin, {"notifications": {
        "webhook": {"url": str(server.make_url("/hook"))}}})  # fmt: skip
    assert kept["notifications"]["webhook"]["hasSecret"] is True
    assert homei.components.alerts.settings.notifications.webhook.secret == "s3cret-value"


async def test_acknowledge_filters_and_paging(make_homei):
    homei = await make_homei(FAST)
    admin = await homei.auth()
    operator = await homei.add_user("olga", "operator")
    viewer = await homei.add_user("vic", "viewer")
    engine = homei.components.alerts
    subscription = homei.components.events.subscribe(["alert:*"])
    thresholds = low_memory()
    thresholds["memory"]["critical"] = 1.0
    await post_settings(homei, admin, {"thresholds": thresholds,
                                       "rules": {"thresholds": {"memory": NOW}}})  # fmt: skip
    await until(lambda: sum(engine.firing_counts().values()) == 2, "two memory alerts")

    page = await alerts(homei, viewer, limit=1)
    assert page["total"] == 2 and page["hasMore"] is True and len(page["alerts"]) == 1
    rest = await alerts(homei, viewer, limit=1, offset=1)
    assert rest["hasMore"] is False
    assert {page["alerts"][0]["id"], rest["alerts"][0]["id"]} == {
        a["id"] for a in (await alerts(homei, viewer))["alerts"]
    }
    critical = await alerts(homei, viewer, level="critical")
    assert [a["rule"] for a in critical["alerts"]] == ["memory.critical"]
    assert (await alerts(homei, viewer, since="2999-01-01T00:00:00Z"))["total"] == 0
    assert (await alerts(homei, viewer, since="2000-01-01T00:00:00Z"))["total"] == 2
    bad = await homei.client.get("/api/v1/alerts?level=loud", headers=viewer)
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "VALIDATION_ERROR"

    target = critical["alerts"][0]["id"]
    path = f"/api/v1/alerts/{target}/acknowledge"
    assert (await homei.client.post(path, headers=viewer)).status == 403
    response = await homei.client.post(path, headers=operator)
    acked = await response.json()
    assert response.status == 200 and acked["acknowledgedBy"] == "olga" and acked["acknowledgedAt"]
    again = await (await homei.client.post(path, headers=admin)).json()
    assert again["acknowledgedBy"] == "olga"
    missing = await homei.client.post("/api/v1/alerts/alert-0000/acknowledge", headers=admin)
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "ALERT_NOT_FOUND"

    seen = []
    async with asyncio.timeout(10):
        while "alert:acknowledged" not in seen:
            seen.append((await subscription.get()).type)
    assert seen.count("alert:firing") == 2 and seen.count("alert:acknowledged") == 1
    metrics = await (await homei.client.get("/metrics", headers=admin)).text()
    assert 'homei_alerts_firing{level="critical"} 1.0' in metrics


async def test_settings_are_checked_as_a_whole(homei):
    admin = await homei.auth()
    before = await (await homei.client.get("/api/v1/alerts/settings", headers=admin)).json()
    assert before["thresholds"]["cpu"] == {"warning": 80.0, "critical": 90.0}
    body = {
        "thresholds": {"cpu": {"warning": 95, "critical": 90},
                       "disk": {"warning": 101, "critical": 102}},
        "notifications": {"email": True, "webhook": {"url": "ftp://nowhere"}},
    }  # fmt: skip
    answer = await post_settings(homei, admin, body, 400)
    paths = {f["path"] for f in answer["error"]["details"]["fields"]}
    assert {
        "body.thresholds.cpu.warning", "body.thresholds.disk.warning",
        "body.thresholds.disk.critical", "body.notifications.webhook.url",
        "body.notifications.smtp",
    } <= paths  # fmt: skip
    after = await (await homei.client.get("/api/v1/alerts/settings", headers=admin)).json()
    assert after == before  # nothing of a refused change was kept


def _certificate(directory: Path) -> tuple[Path, Path]:
    key, cert = directory / "smtp.key", directory / "smtp.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.fixture
def smtp_server(tmp_path: Path):
    """A real SMTP server (aiosmtpd) with STARTTLS and a login, collecting what it gets."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    key, cert = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    class Inbox:
        messages: list[Any] = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope, session.authenticated))
            return "250 OK"

    def authenticate(server, session, envelope, mechanism, auth_data):
        good = auth_data.login == b"homei" and auth_data.password == b"mail-pass"
        return AuthResult(success=good)

    inbox = Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True,
        authenticator=authenticate, auth_require_tls=True,
    )  # fmt: skip
    controller.start()
    try:
        yield controller, inbox, cert
    finally:
        controller.stop()


async def test_email_over_starttls_with_login(make_homei, smtp_server):
    controller, inbox, cert = smtp_server
    homei = await make_homei(FAST)
    admin = await homei.auth()
    smtp = {
        "host": "localhost", "port": controller.port,
        "starttls": True, "caFile": str(cert), "username": "homei", "password": "mail-pass",
        "sender": "device@example.test", "recipients": ["ops@example.test"],
    }  # fmt: skip
    settings = await post_settings(homei, admin, {
        "thresholds": low_memory(), "rules": {"thresholds": {"memory": NOW}},
        "notifications": {"email": True, "smtp": smtp},
    })  # fmt: skip
    assert settings["notifications"]["smtp"]["hasPassword"] is True
    assert settings["notifications"]["smtp"]["password"] is None
    await until(lambda: inbox.messages, "the alert's mail")
    envelope, authenticated = inbox.messages[0]
    assert authenticated and envelope.rcpt_tos == ["ops@example.test"]
    mail = message_from_bytes(envelope.content)
    assert mail["Subject"].startswith("[homei] firing: warning Memory use")
    assert len(inbox.messages) == 1


async def test_failing_channel_shows_in_dependencies(make_homei):
    unused_tcp_port = free_port()
    homei = await make_homei(FAST)
    admin = await homei.auth()
    await post_settings(homei, admin, {
        "thresholds": low_memory(), "rules": {"thresholds": {"memory": NOW}},
        "notifications": {"webhook": {"url": f"http://127.0.0.1:{unused_tcp_port}/hook"}},
    })  # fmt: skip

    async def degraded() -> Any:
        response = await homei.client.get("/api/v1/health/dependencies", headers=admin)
        body = await response.json()
        return body["notifications"] if body["notifications"]["status"] != "healthy" else None

    channel = await until(degraded, "the failing channel in the dependencies")
    assert channel["status"] == "degraded" and channel["critical"] is False
    assert "webhook" in channel["message"] and homei.components.deliverer.delivered == 0
