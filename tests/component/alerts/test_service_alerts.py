"""A managed service on a real Docker engine, killed: its alert fires within its rule's
`for`, the webhook receiver gets it once, and it resolves once the service is back."""

from __future__ import annotations

import asyncio
import time

from tests.component.alerts.receiver import Receiver
from tests.component.services.env import install, running, settings_for, sleeper, until
from tests.docker_env import DockerEngine

SERVICE = "alerted"
FAST = "[alerts]\nretry_first = 0.2\nretry_max = 1.0\n"


async def test_killed_service_fires_and_resolves(
    engine: DockerEngine,
    make_homei,
    aiohttp_server,
) -> None:
    receiver = Receiver()
    server = await aiohttp_server(receiver.app())
    homei = await make_homei(settings_for(engine, FAST), parts=frozenset())
    try:
        admin = await homei.auth()
        response = await homei.client.post("/api/v1/alerts/settings", headers=admin, json={
            "rules": {"serviceDown": {"for": 0}},
            "notifications": {"minLevel": "warning",
                              "webhook": {"url": str(server.make_url("/hook"))}},
        })  # fmt: skip
        assert response.status == 200, await response.text()
        await install(homei, admin, sleeper(SERVICE))
        await until(lambda: running(engine, SERVICE), "the service running")

        killed_at = time.monotonic()
        answer = await asyncio.to_thread(engine.api, "POST", f"/containers/{SERVICE}/kill")
        assert answer.status == 204, answer.body
        firing = await until(lambda: receiver.with_change("firing"), "the firing message")
        # `for` is 0: the rules' next step (every second) fires it; allow for the event's way.
        assert time.monotonic() - killed_at < 10.0
        alert = firing[0]["alert"]
        assert alert["rule"] == "service_down" and alert["subject"] == SERVICE
        assert alert["level"] == "error" and alert["details"]["exitCode"] == "137"

        await until(lambda: running(engine, SERVICE), "the service back")
        resolved = await until(lambda: receiver.with_change("resolved"), "the resolved message")
        assert resolved[0]["alert"]["id"] == alert["id"]
        listed = await (await homei.client.get("/api/v1/alerts", headers=admin)).json()
        assert [(a["rule"], a["state"]) for a in listed["alerts"]] == [("service_down", "resolved")]
        assert [m["change"] for m in receiver.messages] == ["firing", "resolved"]
    finally:
        await homei.client.close()
        await asyncio.to_thread(engine.remove_containers, "io.homei.managed")
