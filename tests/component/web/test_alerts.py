"""Alerts in a browser: a real threshold alert fires after its settings are saved through the
form, shows up live on the alerts page and the overview, is acknowledged, and clears when the
threshold is set back; a bad value is named beside its field; the browser's desktop
notification for a new alert, asked for only after a click."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, expect

from tests.browser import DESKTOP, visiting
from tests.component.conftest import LiveHomei
from tests.component.web.conftest import Dashboard
from tests.processes import wait_for

pytestmark = pytest.mark.browser

# What the memory rule says when its warning line is 1 %: memory in use is always above it.
LOW_LINE = "(threshold 1%)"
SETTLE_S = 30.0

# Wraps the browser's Notification so the test sees each one made and each permission asked
# for; the permission reads "default" until the page asks, then the real answer (the context
# grants it).
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  const record = { made: [], asked: 0 };
  let permission = "default";
  class Recorded extends Real {
    constructor(title, options) {
      record.made.push({ title, body: options && options.body });
      super(title, options);
    }
    static get permission() { return permission; }
    static async requestPermission() {
      record.asked += 1;
      permission = await Real.requestPermission();
      return permission;
    }
  }
  window.Notification = Recorded;
  window.__notifications = record;
})();
"""


def _memory_alerts(dashboard: Dashboard, state: str) -> list[dict[str, Any]]:
    status, body = dashboard.api("GET", f"/api/v1/alerts?state={state}&limit=1000")
    assert status == 200, body
    return [a for a in body["alerts"] if a["rule"] == "memory.warning" and LOW_LINE in a["message"]]


@pytest.fixture
def settings_restored(homei_web: LiveHomei) -> Iterator[dict[str, Any]]:
    """The alert settings as they were, put back after the test (and the low-line alert
    resolved), whatever the test did to them."""
    process, token = homei_web.process, homei_web.token
    status, before = process.request("GET", "/api/v1/alerts/settings", token=token)
    assert status == 200, before
    yield before
    status, body = process.request("POST", "/api/v1/alerts/settings", before, token=token)
    assert status == 200, body

    def resolved() -> bool:
        _, answer = process.request("GET", "/api/v1/alerts?state=firing", token=token)
        return not any(LOW_LINE in a["message"] for a in answer["alerts"])

    wait_for(resolved, SETTLE_S, lambda: AssertionError("the low-line alert did not resolve"))


def _fill_memory(dashboard: Dashboard, warning: str, critical: str, hold: str, band: str) -> None:
    group = dashboard.page.get_by_role("group", name="Memory", exact=True)
    group.get_by_label("Warning (%)").fill(warning)
    group.get_by_label("Critical (%)").fill(critical)
    group.get_by_label("Hold for (s)").fill(hold)
    group.get_by_label("Hysteresis (%)").fill(band)
    dashboard.page.get_by_role("button", name="Save settings").click()


def _low_line_rows(dashboard: Dashboard, state: str) -> Locator:
    table = dashboard.page.get_by_role("region", name="Alerts", exact=True)
    return table.locator("tbody tr").filter(has_text=LOW_LINE).filter(has_text=state)


def test_an_alert_fires_is_acknowledged_and_clears(
    dashboard: Dashboard, settings_restored: dict[str, Any]
) -> None:
    page = dashboard.page
    dashboard.sign_in()
    dashboard.go("Alerts")
    expect(page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
    memory = page.get_by_role("group", name="Memory", exact=True)
    expect(memory.get_by_label("Warning (%)")).to_have_value("80")

    # A warning line above the critical one is refused, named beside the field.
    _fill_memory(dashboard, "95", "90", "60", "5")
    expect(memory.get_by_role("alert")).to_have_text("must not be above critical")
    expect(memory.get_by_label("Warning (%)")).to_have_attribute("aria-invalid", "true")
    _, unchanged = dashboard.api("GET", "/api/v1/alerts/settings")
    assert unchanged["thresholds"]["memory"]["warning"] == 80

    # A line memory in use is always over, held for no time: the alert appears without a reload.
    _fill_memory(dashboard, "1", "100", "0", "0")
    expect(page.get_by_text("Alert settings saved")).to_be_visible()
    expect(memory.get_by_role("alert")).to_have_count(0)
    firing = _low_line_rows(dashboard, "firing")
    expect(firing).to_have_count(1)
    expect(firing.get_by_text("warning", exact=True)).to_be_visible()
    assert len(_memory_alerts(dashboard, "firing")) == 1
    dashboard.shot("alerts")
    dashboard.assert_clean()

    dashboard.go("Overview")
    expect(page.get_by_role("region", name="Firing alerts")).to_contain_text(LOW_LINE)
    dashboard.go("Alerts")

    firing.get_by_role("button", name="Acknowledge").click()
    expect(firing).to_contain_text("admin, just now")
    (alert,) = _memory_alerts(dashboard, "firing")
    assert alert["acknowledgedBy"] == "admin"

    # Set back through the form: the alert clears, again without a reload.
    _fill_memory(dashboard, "80", "90", "60", "5")
    expect(firing).to_have_count(0)
    expect(_low_line_rows(dashboard, "resolved").filter(has_text="admin")).not_to_have_count(0)
    assert _memory_alerts(dashboard, "firing") == []


def test_a_viewer_sees_alerts_but_cannot_change_or_acknowledge_them(desktop: Dashboard) -> None:
    status, body = desktop.api(
        "POST",
        "/api/v1/users",
        {"username": "alert-watcher", "password": "watching-alerts-1", "role": "viewer"},
    )
    assert status in (200, 201), body
    desktop.sign_in("alert-watcher", "watching-alerts-1")
    desktop.go("Alerts")
    page = desktop.page
    expect(page.get_by_text("Only an admin can change these settings.")).to_be_visible()
    expect(page.get_by_role("button", name="Save settings")).to_have_count(0)
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(
        page.get_by_role("group", name="Memory", exact=True).get_by_label("Warning (%)")
    ).to_be_disabled()


def test_a_new_alert_shows_a_desktop_notification_after_the_user_asks(
    browser: Browser, homei_web: LiveHomei, settings_restored: dict[str, Any]
) -> None:
    with visiting(browser, homei_web.url, DESKTOP, permissions=["notifications"]) as visit:
        visit.page.context.add_init_script(RECORD_NOTIFICATIONS)
        dashboard = Dashboard(visit, homei_web.url, homei_web, "desktop")
        page = dashboard.page
        dashboard.sign_in()
        dashboard.go("Alerts")
        enable = page.get_by_role("button", name="Enable desktop notifications")
        expect(enable).to_be_visible()
        assert page.evaluate("() => window.__notifications.asked") == 0  # never on load

        enable.click()
        expect(page.get_by_text("Desktop notifications are on in this browser.")).to_be_visible()
        assert page.evaluate("() => window.__notifications.asked") == 1

        rules = settings_restored["rules"]
        low = {
            "thresholds": {
                **settings_restored["thresholds"],
                "memory": {"warning": 1, "critical": 100},
            },
            "rules": {
                **rules,
                "thresholds": {**rules["thresholds"], "memory": {"for": 0, "hysteresis": 0}},
            },
        }
        status, body = dashboard.api("POST", "/api/v1/alerts/settings", low)
        assert status == 200, body
        page.wait_for_function(
            "line => window.__notifications.made.some(n => (n.body || '').includes(line))",
            arg=LOW_LINE,
        )
        made = page.evaluate("() => window.__notifications.made")
        shown = [n for n in made if LOW_LINE in (n["body"] or "")]
        assert len(shown) == 1 and shown[0]["title"] == "Homei: warning alert"
        assert page.evaluate("() => window.__notifications.asked") == 1  # asked once
        assert visit.errors == []


def test_a_webhook_channel_is_set_checked_and_its_secret_removed(
    desktop: Dashboard, settings_restored: dict[str, Any]
) -> None:
    page = desktop.page
    desktop.sign_in()
    desktop.go("Alerts")
    webhook = page.get_by_role("group", name="Webhook", exact=True)
    save = page.get_by_role("button", name="Save settings")

    webhook.get_by_label("URL (empty: none)").fill("ftp://hooks.example.test/homei")
    save.click()
    expect(webhook.get_by_role("alert")).to_have_text("must be an http:// or https:// URL")

    webhook.get_by_label("URL (empty: none)").fill("http://127.0.0.1:9/homei")
    webhook.get_by_label("Signing secret").fill("hook-signing-secret")
    webhook.get_by_label("Lowest level").select_option("critical")
    save.click()
    expect(page.get_by_text("Alert settings saved")).to_be_visible()
    expect(webhook.get_by_role("alert")).to_have_count(0)
    _, stored = desktop.api("GET", "/api/v1/alerts/settings")
    hook = stored["notifications"]["webhook"]
    assert (hook["url"], hook["hasSecret"], hook["minLevel"]) == (
        "http://127.0.0.1:9/homei",
        True,
        "critical",
    )
    assert "hook-signing-secret" not in page.content()  # never shown again
    expect(webhook.get_by_label("Signing secret")).to_have_value("")

    webhook.get_by_label("Remove the stored secret").check()
    save.click()
    expect(webhook.get_by_label("Remove the stored secret")).to_have_count(0)
    _, stored = desktop.api("GET", "/api/v1/alerts/settings")
    assert stored["notifications"]["webhook"]["hasSecret"] is False
    desktop.assert_clean()
