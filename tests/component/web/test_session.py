"""Signing in and out of the dashboard, and what the page is allowed to do: the session survives
a reload, no token is ever in the page's storage, a viewer sees no buttons it cannot use, and
the page is served with a strict policy and loads nothing from beyond the device."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.component.web.conftest import Dashboard

pytestmark = pytest.mark.browser


def _storage(dashboard: Dashboard) -> str:
    return str(
        dashboard.page.evaluate(
            "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
        )
    )


def test_sign_in_survives_a_reload_and_sign_out_ends_it(dashboard: Dashboard) -> None:
    page = dashboard.page
    dashboard.open("/")
    expect(page.get_by_role("heading", name="Homei")).to_be_visible()
    dashboard.assert_clean()
    dashboard.shot("signin")

    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Invalid username or password")

    dashboard.sign_in()
    if dashboard.width == "desktop":
        expect(page.get_by_text("admin · admin")).to_be_visible()
    assert _storage(dashboard) == "[[],[]]"
    cookies = page.context.cookies()
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
        ("homei_session", True, "Strict")
    ]
    assert page.evaluate("() => document.cookie") == ""

    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Username")).to_be_visible()
    assert page.context.cookies() == []
    page.reload()
    expect(page.get_by_label("Username")).to_be_visible()
    assert dashboard.visit.errors == []
    assert dashboard.visit.foreign() == []


def test_a_viewer_sees_no_buttons_it_cannot_use(desktop: Dashboard) -> None:
    status, body = desktop.api(
        "POST",
        "/api/v1/users",
        {"username": "watcher", "password": "watching-only-1", "role": "viewer"},
    )
    assert status in (200, 201), body
    desktop.sign_in("watcher", "watching-only-1")
    page = desktop.page
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Services")).to_be_visible()
    expect(nav.get_by_role("link", name="Users & keys")).to_have_count(0)
    desktop.go("Services")
    expect(page.get_by_role("heading", name="Services", level=1)).to_be_visible()
    for label in ("Install", "Start", "Stop", "Restart", "Delete"):
        expect(page.get_by_role("button", name=label)).to_have_count(0)
    desktop.open("/users")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_the_page_is_served_with_a_strict_policy(desktop: Dashboard) -> None:
    with urllib.request.urlopen(f"{desktop.url}/") as answer:
        page = answer.read().decode()
        headers = answer.headers
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert headers["Cache-Control"] == "no-cache"
    assert "<script>" not in page  # no inline script
    assert re.search(r"""(src|href)=["']?(https?:)?//""", page) is None  # nothing from elsewhere
    script = page.split('<script type="module" src="')[1].split('"')[0]
    with urllib.request.urlopen(f"{desktop.url}{script}") as answer:
        assert "immutable" in answer.headers["Cache-Control"]
        assert answer.headers["Content-Type"].startswith(
            ("application/javascript", "text/javascript")
        )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{desktop.url}/assets/..%2Fhomei.log")
    assert refused.value.code == 404
