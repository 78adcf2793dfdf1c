"""The dashboard in headless Chromium against one live Homei on a development device (its own
Docker engine and RAUC service), shared by the package's tests."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import DESKTOP, PHONE, Visit, launched, visiting
from tests.component.conftest import LiveHomei, live_homei

CHECKOUT = Path(__file__).resolve().parents[3]
AXE = CHECKOUT / "web" / "node_modules" / "axe-core" / "axe.min.js"
# Where the tests leave a screenshot of each page; the README shows copies of them.
SCREENSHOTS = Path(os.environ.get("HOMEI_SCREENSHOTS", CHECKOUT / "var" / "screenshots"))
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture(scope="package")
def homei_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHomei]:
    """One live Homei for every dashboard test."""
    if not (CHECKOUT / "homei" / "web" / "index.html").exists():
        pytest.fail("the dashboard is not built: scripts/bootstrap builds it from web/")
    with live_homei(tmp_path_factory) as live:
        yield live


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    with launched() as browser:
        yield browser


@dataclass
class Dashboard:
    """One browser context on the dashboard, with the steps the tests share."""

    visit: Visit
    url: str
    live: LiveHomei
    width: str

    @property
    def page(self) -> Page:
        """The browser tab."""
        return self.visit.page

    def open(self, path: str = "/") -> None:
        """Load the dashboard at `#path`."""
        self.page.goto(f"{self.url}/#{path}")

    def sign_in(self, username: str = "admin", password: str | None = None) -> None:
        """Sign in through the form and wait for the menu."""
        self.open("/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password or self.live.process.admin_password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("button", name="Sign out")).to_be_visible()

    def go(self, label: str) -> None:
        """Follow a link of the main menu (opening it first on a phone)."""
        toggle = self.page.get_by_role("button", name="Menu")
        if toggle.is_visible():
            toggle.click()
        self.page.get_by_role("navigation", name="Main").get_by_role("link", name=label).click()

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """A call to the API as the admin, beside the browser."""
        return self.live.process.request(method, path, body, token=self.live.token)

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on the page as it is now. The script
        goes in through the DevTools protocol, which the page's CSP does not govern."""
        if not self.page.evaluate("() => typeof window.axe === 'object'"):
            self.page.evaluate(AXE.read_text() + "\n;undefined")
        result = self.page.evaluate(
            "async () => JSON.stringify((await axe.run(document, {resultTypes: ['violations']}))"
            ".violations.filter(v => v.impact === 'serious' || v.impact === 'critical')"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"
        )
        return list(json.loads(result))

    def shot(self, name: str) -> Path:
        """A screenshot of the page, named after it and the width."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{self.width}.png"
        self.page.screenshot(path=path, full_page=True)
        return path

    def assert_clean(self) -> None:
        """No script error, nothing fetched from beyond the device, no accessibility violation
        that axe calls serious or critical."""
        assert self.visit.errors == []
        assert self.visit.foreign() == []
        assert self.axe() == []


@pytest.fixture(params=sorted(VIEWPORTS))
def dashboard(
    request: pytest.FixtureRequest, browser: Browser, homei_web: LiveHomei
) -> Iterator[Dashboard]:
    """A fresh browser context at desktop and at phone width."""
    width = request.param
    with visiting(browser, homei_web.url, VIEWPORTS[width]) as visit:
        yield Dashboard(visit, homei_web.url, homei_web, width)


@pytest.fixture
def desktop(browser: Browser, homei_web: LiveHomei) -> Iterator[Dashboard]:
    """A fresh browser context at desktop width only."""
    with visiting(browser, homei_web.url, DESKTOP) as visit:
        yield Dashboard(visit, homei_web.url, homei_web, "desktop")
