"""Kill -9 between an alert and its delivery: the real `homei serve` is killed while its
webhook cannot be reached; after the restart the alert is still firing (not fired again),
and the receiver gets exactly one message per change."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.component.alerts.receiver import Receiver
from tests.component.alerts.test_alerts_api import NOW, low_memory
from tests.component.services.env import until
from tests.daemon_process import HomeiProcess, free_port, start_homei

FAST = {
    "HOMEI_MONITOR__INTERVAL": "0.2",
    "HOMEI_ALERTS__RETRY_FIRST": "0.2",
    "HOMEI_ALERTS__RETRY_MAX": "0.5",
}


async def call(homei: HomeiProcess, method: str, path: str, body: Any = None) -> Any:
    token = await asyncio.to_thread(homei.login)
    status, answer = await asyncio.to_thread(homei.request, method, path, body, token)
    assert status == 200, answer
    return answer


async def test_undelivered_alert_survives_kill_9_and_is_sent_once(tmp_path: Path, aiohttp_server):
    port = free_port()
    homei = await asyncio.to_thread(start_homei, tmp_path, **FAST)
    try:
        await call(homei, "POST", "/api/v1/alerts/settings", {
            "thresholds": low_memory(), "rules": {"thresholds": {"memory": NOW}},
            "notifications": {"webhook": {"url": f"http://127.0.0.1:{port}/hook"}},
        })  # fmt: skip

        async def firing() -> list[dict[str, Any]]:
            answer = await call(homei, "GET", "/api/v1/alerts?state=firing")
            return answer["alerts"]  # type: ignore[no-any-return]

        alert = (await until(firing, "the alert firing"))[0]
        # The receiver is not there yet: the delivery has failed at least once.
        await until(lambda: asyncio.to_thread(_has_failed, homei), "a failed delivery")
    finally:
        homei.process.kill()
        await asyncio.to_thread(homei.process.wait)
        homei.notify.close()

    receiver = Receiver()
    await aiohttp_server(receiver.app(), port=port)
    homei = await asyncio.to_thread(start_homei, tmp_path, **FAST)
    try:
        delivered = await until(lambda: receiver.with_change("firing"), "the delivery")
        assert delivered[0]["alert"]["id"] == alert["id"]
        # Still the one alert, firing since before the kill.
        again = (await call(homei, "GET", "/api/v1/alerts"))["alerts"]
        assert [(a["id"], a["state"]) for a in again] == [(alert["id"], "firing")]

        await call(homei, "POST", "/api/v1/alerts/settings", {"thresholds": low_memory(100)})
        await until(lambda: receiver.with_change("resolved"), "the resolved message")
        assert [(m["change"], m["alert"]["id"]) for m in receiver.messages] == [
            ("firing", alert["id"]),
            ("resolved", alert["id"]),
        ]
    finally:
        homei.stop()


def _has_failed(homei: HomeiProcess) -> bool:
    """True once the daemon has logged its webhook failing."""
    return "Alert channel webhook failed" in homei.log()
