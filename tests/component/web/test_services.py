"""The services pages in a browser against a live Homei and Docker: install from the form after
a problem the API finds as the user types, follow the new service's log live, stop it and see
its state change without a reload, delete it; deleting a service others need; configuration
with secrets revealed to an admin only, saved as a new version and restored."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.component.web.conftest import Dashboard
from tests.daemon_process import free_port
from tests.docker_env import IMAGE
from tests.processes import wait_for

pytestmark = pytest.mark.browser

# A shell that prints a line a second and leaves at once when stopped.
TICKER = "sh -c 'trap \"exit 0\" TERM; while true; do echo tick $(date +%s); sleep 1; done'"
SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
LONG_MS = 90_000


def _log_lines(page: Page) -> int:
    return int(page.locator("pre.logs").get_attribute("data-lines") or 0)


def _install_by_api(dashboard: Dashboard, body: dict[str, Any]) -> None:
    status, answer = dashboard.api("POST", "/api/v1/services", body)
    assert status == 202, answer

    def running() -> bool:
        code, service = dashboard.api("GET", f"/api/v1/services/{body['name']}")
        return code == 200 and service["status"] == "running"

    wait_for(running, 60, lambda: AssertionError(f"{body['name']} did not start"))


def _status_card(page: Page) -> Any:
    return page.get_by_role("region", name="Status")


def test_install_follow_stop_and_delete_a_service(dashboard: Dashboard) -> None:
    page, name = dashboard.page, f"ticker-{dashboard.width}"
    dashboard.sign_in()
    dashboard.go("Services")
    expect(page.get_by_role("heading", name="Services", level=1)).to_be_visible()
    page.get_by_role("button", name="Install").click()
    form = page.get_by_role("form", name="Install service")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Image").fill(IMAGE)
    form.get_by_label("Command", exact=True).fill(TICKER)
    form.get_by_label("Health check command").fill("test -d /proc/1")
    form.get_by_label("Health check interval (s)").fill("5")
    form.get_by_label("Ports").fill("99999:80")
    # The API's verdict on the port, beside the Ports input.
    expect(page.locator("#svc-ports-error")).to_contain_text("Line 1", timeout=LONG_MS)
    expect(form.get_by_label("Ports")).to_have_attribute("aria-invalid", "true")
    dashboard.shot("services-install")
    assert dashboard.axe() == []

    form.get_by_label("Ports").fill(f"127.0.0.1:{free_port()}:80")
    expect(page.locator("#svc-ports-error")).to_have_count(0, timeout=LONG_MS)
    form.get_by_role("button", name="Install").click()
    # The task's progress, then the service's own page once it runs.
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible(timeout=LONG_MS)
    status = _status_card(page)
    expect(status.get_by_text("running", exact=True)).to_be_visible(timeout=LONG_MS)
    expect(page.get_by_role("region", name="Resource use, last hour")).to_be_visible()
    healthcheck = dashboard.api("GET", f"/api/v1/services/{name}")[1]["config"]["healthcheck"]
    assert healthcheck["test"] == ["CMD-SHELL", "test -d /proc/1"]
    assert healthcheck["interval"] == "5s"

    logs = page.locator("pre.logs")
    expect(logs).to_contain_text("tick", timeout=LONG_MS)
    seen = _log_lines(page)
    page.wait_for_function(
        "n => Number(document.querySelector('pre.logs').dataset.lines) > n", arg=seen
    )
    page.get_by_role("button", name="Pause").click()
    held = _log_lines(page)
    expect(page.get_by_text(re.compile(r"Paused \([1-9]\d* new\)"))).to_be_visible(timeout=LONG_MS)
    assert _log_lines(page) == held
    page.get_by_role("button", name="Resume").click()
    page.wait_for_function(
        "n => Number(document.querySelector('pre.logs').dataset.lines) > n", arg=held
    )
    dashboard.shot("service-page")
    dashboard.assert_clean()

    page.get_by_role("button", name=f"Stop {name}").click()
    expect(status.get_by_text("stopped", exact=True)).to_be_visible(timeout=LONG_MS)
    expect(page.get_by_role("button", name=f"Start {name}", exact=True)).to_be_visible()

    # The list shows it stopped, with the control to start it again.
    page.get_by_role("link", name="All services").click()
    row = page.get_by_role("table", name="Services").get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("stopped")
    expect(row.get_by_role("button", name=f"Start {name}", exact=True)).to_be_visible()
    dashboard.shot("services")
    assert dashboard.axe() == []
    row.get_by_role("link", name=name).click()

    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_text("No other service depends on it.")).to_be_visible()
    page.get_by_label("Also remove its data").check()
    with page.expect_request(lambda r: r.method == "DELETE") as deleting:
        page.get_by_role("button", name="Delete permanently").click()
    assert "removeData=true" in deleting.value.url
    expect(page.get_by_role("heading", name="Services", level=1)).to_be_visible()
    expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    assert dashboard.api("GET", f"/api/v1/services/{name}")[0] == 404
    dashboard.assert_clean()


def test_a_service_others_need_is_not_deleted(desktop: Dashboard) -> None:
    base, user = "needed-base", "needed-user"
    _install_by_api(desktop, {"name": base, "image": IMAGE, "command": SLEEPER})
    _install_by_api(
        desktop, {"name": user, "image": IMAGE, "command": SLEEPER, "depends_on": [base]}
    )
    try:
        page = desktop.page
        desktop.sign_in()
        desktop.open(f"/services/{base}")
        details = page.get_by_role("region", name="Details")
        expect(details.get_by_role("link", name=user)).to_be_visible()
        page.get_by_role("button", name="Delete", exact=True).click()
        expect(page.get_by_text(f"Needed by {user}")).to_be_visible()
        page.get_by_role("button", name="Delete permanently").click()
        expect(page.get_by_role("alert")).to_contain_text(f"needed by: {user}")
        assert desktop.api("GET", f"/api/v1/services/{base}")[0] == 200
        desktop.assert_clean()
    finally:
        desktop.api("DELETE", f"/api/v1/services/{user}")
        desktop.api("DELETE", f"/api/v1/services/{base}")


def test_configuration_secrets_versions_restore_and_edit(desktop: Dashboard) -> None:
    name = "configured"
    _install_by_api(desktop, {"name": name, "image": IMAGE, "command": SLEEPER})
    try:
        status, answer = desktop.api(
            "PUT",
            f"/api/v1/config/{name}",
            {"variables": {"GREETING": "hello"}, "secrets": {"API_TOKEN": "tok-7731"}},
        )
        assert status == 200, answer
        page = desktop.page
        desktop.sign_in()
        desktop.open(f"/services/{name}")
        card = page.get_by_role("region", name="Configuration")
        expect(card.get_by_text("hello")).to_be_visible()
        expect(card.get_by_text("set (hidden)")).to_be_visible()
        expect(card.get_by_text("tok-7731")).to_have_count(0)
        card.get_by_role("button", name="Reveal secrets").click()
        expect(card.get_by_text("tok-7731")).to_be_visible()
        card.get_by_role("button", name="Hide secrets").click()
        expect(card.get_by_text("tok-7731")).to_have_count(0)

        card.get_by_role("button", name="Edit configuration").click()
        card.get_by_label("Variables").fill("GREETING=bonjour")
        card.get_by_role("button", name="Save new version").click()
        expect(card.get_by_text("bonjour")).to_be_visible(timeout=LONG_MS)
        expect(card.get_by_text("version 2", exact=False)).to_be_visible()
        # The secret kept its value: it was sent back redacted.
        config = desktop.api("GET", f"/api/v1/config/{name}?includeSecrets=true")[1]
        assert config["secrets"] == {"API_TOKEN": "tok-7731"}
        desktop.shot("service-config")
        assert desktop.axe() == []

        card.get_by_role("button", name="Restore version 1").click()
        expect(card.get_by_text("hello")).to_be_visible(timeout=LONG_MS)
        expect(card.get_by_text("version 3", exact=False)).to_be_visible()
        assert desktop.api("GET", f"/api/v1/config/{name}")[1]["variables"] == {"GREETING": "hello"}

        # Changing the service: its own name is no problem of the change.
        page.get_by_role("button", name="Edit", exact=True).click()
        form = page.get_by_role("form", name="Edit service")
        with page.expect_response("**/api/v1/validate/service") as checked:
            form.get_by_label("Environment").fill("MODE=edited")
        assert checked.value.json()["errors"] != []  # the name is taken: by this service
        expect(form.locator("[role=alert]")).to_have_count(0)
        form.get_by_role("button", name="Save changes").click()
        details = page.get_by_role("region", name="Details")
        expect(details).to_contain_text("MODE=edited", timeout=LONG_MS)
        expect(form).to_have_count(0)
        changed = desktop.api("GET", f"/api/v1/services/{name}")[1]
        assert changed["environment"] == {"MODE": "edited"}
        assert changed["config"]["command"] == SLEEPER  # the command's quoting came back intact
        desktop.assert_clean()

        # A viewer sees the service and that a secret is set, and nothing it cannot use.
        status, answer = desktop.api(
            "POST",
            "/api/v1/users",
            {"username": "svc-viewer", "password": "viewing-only-1", "role": "viewer"},
        )
        assert status in (200, 201), answer
        page.get_by_role("button", name="Sign out").click()
        desktop.sign_in("svc-viewer", "viewing-only-1")
        desktop.open(f"/services/{name}")
        expect(card.get_by_text("set (hidden)")).to_be_visible()
        expect(page.get_by_role("region", name="Status")).to_contain_text("running")
        for label in ("Reveal secrets", "Edit configuration", "Restore", "Stop", "Edit", "Delete"):
            expect(page.get_by_role("button", name=label)).to_have_count(0)
        expect(page.get_by_role("region", name="Logs")).to_have_count(0)
        desktop.assert_clean()
    finally:
        desktop.api("DELETE", f"/api/v1/services/{name}")


def test_a_name_taken_is_shown_beside_the_name(desktop: Dashboard) -> None:
    name = "taken-name"
    _install_by_api(desktop, {"name": name, "image": IMAGE, "command": SLEEPER})
    try:
        page = desktop.page
        desktop.sign_in()
        desktop.go("Services")
        page.get_by_role("button", name="Install").click()
        form = page.get_by_role("form", name="Install service")
        form.get_by_label("Name", exact=True).fill(name)
        form.get_by_label("Image").fill(IMAGE)
        expect(page.locator("#svc-name-error")).to_contain_text("already exists", timeout=LONG_MS)
        form.get_by_label("Name", exact=True).fill(f"{name}-2")
        expect(page.locator("#svc-name-error")).to_have_count(0, timeout=LONG_MS)
        # A native service runs an uploaded artefact: without one, the API says so there.
        form.get_by_label("Runtime").select_option("systemd")
        expect(form.get_by_label("Image")).to_have_count(0)
        expect(page.locator("#svc-artifact-error")).to_contain_text("artifact", timeout=LONG_MS)
    finally:
        desktop.api("DELETE", f"/api/v1/services/{name}")
