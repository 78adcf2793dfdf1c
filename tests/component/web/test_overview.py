"""The overview in a browser: the device's health and its figures arriving live from
`/ws/monitoring` into the charts, beside the update, the backups and the services, at desktop
and phone width."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.component.web.conftest import Dashboard

pytestmark = pytest.mark.browser

POINTS = "() => Number(document.querySelector('.charts')?.dataset.points ?? 0)"


def test_the_overview_shows_the_device_live(dashboard: Dashboard) -> None:
    dashboard.sign_in()
    page = dashboard.page
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()

    # Figures arrive from the socket: the time of the last one moves on, the charts grow.
    updated = page.locator("#live-updated")
    expect(updated).to_contain_text("Updated")
    first_text = updated.inner_text()
    page.wait_for_function(f"() => ({POINTS})() > 0")
    first_points = int(page.evaluate(POINTS))
    expect(updated).not_to_have_text(first_text)
    page.wait_for_function(f"n => ({POINTS})() > n", arg=first_points)
    expect(page.locator(".live-state")).to_have_text("live")

    now = page.get_by_role("region", name="Now")
    expect(now.locator(".stat").filter(has_text="CPU").locator(".value")).to_have_text(
        re.compile(r"^\d+\.\d %$")
    )
    status, memory = dashboard.api("GET", "/api/v1/metrics/current")
    assert status == 200
    expect(now.locator(".stat").filter(has_text="Memory").locator(".detail")).to_contain_text(
        f"of {memory['metrics']['memory']['total']} GB"
    )
    charts = page.get_by_role("region", name="Last 15 minutes")
    expect(charts.get_by_role("img", name="CPU use (%) chart")).to_be_visible()
    expect(charts.locator("canvas")).not_to_have_count(0)

    status, info = dashboard.api("GET", "/api/v1/status")
    assert status == 200
    device = page.get_by_role("region", name="Device")
    expect(device).to_contain_text(info["version"])
    expect(device.get_by_text("docker", exact=True)).to_be_visible()
    expect(device.get_by_text("rauc", exact=True)).to_be_visible()
    update = page.get_by_role("region", name="Update")
    expect(update).to_contain_text("rootfs.0 (slot A)")
    expect(page.get_by_role("region", name="Last backup")).to_be_visible()
    expect(page.get_by_role("region", name="Services")).to_be_visible()
    expect(page.get_by_role("region", name="Firing alerts")).to_be_visible()
    # Every read answered (a card whose read failed in passing tries again within 10 s).
    expect(page.get_by_role("main").get_by_role("alert")).to_have_count(0, timeout=25_000)

    page.evaluate("() => window.scrollTo(0, 0)")
    dashboard.shot("overview")
    dashboard.assert_clean()
    # The charts draw within the page's strict policy: no style or script was refused.
    assert [m for m in dashboard.visit.console if "Content Security Policy" in m] == []
