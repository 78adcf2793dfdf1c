"""Cancel, consent, maintenance windows and a server that goes away, against the real RAUC
and the DDI server test double; and `/api/v1/fleet` itself."""

from __future__ import annotations

import asyncio

import pytest

from tests.component.fleet.test_fleet_rollout import action_state, wait_state, wait_until
from tests.rauc_env import rauc_available

pytestmark = pytest.mark.skipif(not rauc_available(), reason="RAUC is not installed")


async def test_cancel_before_the_install_stops_the_download(homei, device, server):
    bundle = await asyncio.to_thread(device.make_bundle, "5.0.0")
    server.hold = asyncio.Event()
    server.assign("21", bundle.path)
    await wait_until(lambda: server.downloads, what="download started")
    server.cancel = "22"
    await wait_until(lambda: server.feedback_for("22", "cancelAction"), what="cancel feedback")
    answer = server.feedback_for("22", "cancelAction")[0]["status"]
    assert answer["execution"] == "closed" and answer["result"]["finished"] == "success"
    assert await action_state(homei, "21") == "canceled"
    server.hold.set()
    leftovers = list(homei.components.updates.bundles.directory.iterdir())
    assert not [p for p in leftovers if "fleet-21" in p.name], leftovers
    assert await homei.components.updates.history.list() == []


async def test_cancel_after_the_install_started_is_refused(homei, device, server):
    bundle = await asyncio.to_thread(device.make_bundle, "5.0.1")
    server.assign("23", bundle.path)
    await wait_state(homei, "23", "installed")
    server.cancel = "24"
    await wait_until(lambda: server.feedback_for("24", "cancelAction"), what="cancel feedback")
    assert server.feedback_for("24", "cancelAction")[0]["status"]["execution"] == "rejected"
    assert await action_state(homei, "23") == "installed"


async def test_download_only_waits_for_the_window(homei, device, server):
    bundle = await asyncio.to_thread(device.make_bundle, "5.0.2")
    server.assign("25", bundle.path, update="skip", maintenance="unavailable")
    await wait_state(homei, "25", "downloaded")
    await wait_until(
        lambda: any(b["status"]["execution"] == "downloaded" for b in server.feedback_for("25")),
        what="downloaded feedback",
    )
    assert await homei.components.updates.history.list() == []
    # The window opens: the server now says `attempt`, and the stored download is installed.
    downloads = len(server.downloads)
    server.assign("25", bundle.path, update="attempt", maintenance="available")
    await wait_state(homei, "25", "installed")
    assert len(server.downloads) == downloads  # not fetched twice


async def test_consent_is_asked_through_the_api(homei, device, server):
    headers = await homei.auth()
    bundle = await asyncio.to_thread(device.make_bundle, "5.0.3")
    server.confirm = True
    server.assign("26", bundle.path)
    await wait_state(homei, "26", "awaiting_confirmation")
    shown = await (await homei.client.get("/api/v1/fleet", headers=headers)).json()
    assert [a["id"] for a in shown["pending_confirmation"]] == ["26"]
    response = await homei.client.post("/api/v1/fleet/actions/26/confirm", headers=headers)
    assert response.status == 200, await response.text()
    answer = server.feedback_for("26", "confirmationBase")[0]
    assert answer["confirmation"] == "confirmed" and "admin" in answer["details"][0]
    await wait_state(homei, "26", "installed")
    again = await homei.client.post("/api/v1/fleet/actions/26/deny", headers=headers)
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "CONFLICT"
    missing = await homei.client.post("/api/v1/fleet/actions/99/deny", headers=headers)
    assert missing.status == 404


async def test_a_server_away_backs_off_and_touches_nothing(homei, device, server):
    headers = await homei.auth()
    await wait_until(lambda: server.polls >= 1, what="first poll")
    server.down = True
    fleet = homei.components.fleet
    await wait_until(lambda: fleet.failures >= 3, what="three failed polls")
    assert fleet.next_poll_in is not None and fleet.next_poll_in > 0.1
    response = await homei.client.get("/api/v1/health/dependencies", headers=headers)
    deps = await response.json()
    assert deps["fleet"]["status"] != "healthy" and "503" in deps["fleet"]["message"]
    assert deps["fleet"]["critical"] is False
    assert (await homei.client.get("/health/ready")).status == 200  # not critical
    assert await homei.components.updates.history.list() == []
    server.down = False
    fleet.poll_now()
    await wait_until(lambda: fleet.failures == 0, what="polling again")


@pytest.mark.parametrize(
    "answer",
    [
        {"config": {"polling": {"sleep": "soon"}}, "_links": {}},
        {"config": {"polling": {"sleep": 5}}},
        {"_links": {"deploymentBase": "not a link"}},
    ],
)
async def test_nonsense_from_the_server_touches_nothing(homei, device, server, answer):
    fleet = homei.components.fleet
    await wait_until(lambda: server.polls >= 1, what="first poll")
    server.nonsense = answer
    await wait_until(lambda: fleet.failures >= 2, what="two refused answers")
    assert "not DDI" in fleet.last_error or "HH:MM:SS" in fleet.last_error, fleet.last_error
    assert await homei.components.fleet.actions.recent() == []
    assert await homei.components.updates.history.list() == []


async def test_a_deployment_answered_with_null_is_no_deployment(homei, device, server):
    """gooseBit answers `null` for an update the device's reported version already matches:
    the poll goes on, nothing is counted as a failure, nothing is installed."""
    fleet = homei.components.fleet
    bundle = await asyncio.to_thread(device.make_bundle, "5.0.9")
    server.deployment_null = True
    server.assign("71", bundle.path)
    polls = server.polls
    await wait_until(lambda: server.polls >= polls + 3, what="three polls")
    assert fleet.failures == 0 and fleet.last_error is None
    assert await fleet.actions.recent() == []
    assert server.downloads == []
