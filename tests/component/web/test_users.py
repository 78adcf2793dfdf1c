"""The users and API keys page in Chromium, for admins: a user added with a role, the role
changed, the user deleted; an API key created (its secret shown once, and working), listed and
revoked (and then refused)."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect

from tests.component.web.conftest import Dashboard

pytestmark = pytest.mark.browser


def _status_with(url: str, key: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def test_users_and_their_roles(desktop: Dashboard) -> None:
    page = desktop.page
    name = f"web-user-{uuid.uuid4().hex[:6]}"
    desktop.sign_in()
    desktop.go("Users & keys")
    expect(page.get_by_role("heading", name="Users & keys", level=1)).to_be_visible()
    users = page.get_by_role("table", name="Accounts of this device")
    expect(users).to_contain_text("admin")
    expect(users.get_by_role("button", name="Delete admin")).to_have_count(0)  # not oneself

    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("region", name="Add a user").get_by_role("alert")).to_be_visible()
    page.get_by_label("Password").fill("long-enough-secret-1")
    page.get_by_label("Role", exact=True).select_option("operator")
    page.get_by_role("button", name="Add user").click()
    role = page.get_by_label(f"Role of {name}")
    expect(role).to_have_value("operator")

    role.select_option("viewer")
    expect(page.get_by_role("status")).to_contain_text(f"{name} is now viewer")
    assert desktop.api("GET", f"/api/v1/users/{name}")[1]["role"] == "viewer"
    desktop.assert_clean()
    desktop.shot("users")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Delete {name}").click()
    expect(users.get_by_role("row").filter(has_text=name)).to_have_count(0)
    assert desktop.api("GET", f"/api/v1/users/{name}")[0] == 404


def test_api_keys_shown_once_and_revoked(desktop: Dashboard) -> None:
    page = desktop.page
    name = f"web-key-{uuid.uuid4().hex[:6]}"
    desktop.sign_in()
    desktop.go("Users & keys")
    page.get_by_label("Key name").fill(name)
    page.get_by_label("Key role").select_option("viewer")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("New API key")
    expect(secret).to_be_visible()
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    key = secret.inner_text()
    keys = page.get_by_role("table", name="API keys")
    row = keys.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("viewer")
    assert key not in (keys.inner_text())
    probe = f"{desktop.url}/api/v1/system/info"
    assert _status_with(probe, key) == 200
    desktop.assert_clean()
    desktop.shot("users-key")

    page.get_by_role("button", name="Done").click()
    expect(secret).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=f"Revoke {name}").click()
    expect(row).to_have_count(0)
    assert _status_with(probe, key) == 401


def test_a_viewer_gets_no_buttons_on_these_pages(desktop: Dashboard) -> None:
    name = f"web-viewer-{uuid.uuid4().hex[:6]}"
    status, body = desktop.api(
        "POST", "/api/v1/users", {"username": name, "password": "viewing-only-1", "role": "viewer"}
    )
    assert status == 201, body
    desktop.sign_in(name, "viewing-only-1")
    page = desktop.page
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Users & keys")
    ).to_have_count(0)
    backups = page.get_by_role("region", name="Backups on the device")
    pages = (
        ("Updates", page.get_by_role("table", name="Root file system slots"),
         ("Upload bundle", "Install", "Good", "Bad")),
        ("Backups", backups.locator("table, p.empty").first,
         ("Create backup", "Upload backup", "Restore", "Add schedule")),
        ("Systems & jobs", page.get_by_role("table", name="Systems jobs can run on"),
         ("Run", "Add system", "Test", "Delete")),
    )  # fmt: skip
    for menu, loaded, hidden in pages:
        desktop.go(menu)
        expect(page.get_by_role("heading", name=menu, level=1)).to_be_visible()
        expect(loaded).to_be_visible()
        for label in hidden:
            expect(page.get_by_role("button", name=label, exact=True)).to_have_count(0)
    assert desktop.api("DELETE", f"/api/v1/users/{name}")[0] == 200
