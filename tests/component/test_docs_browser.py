"""`/docs` and `/redoc` in a real browser: they render the API, and load nothing from beyond the
device (a device is often offline, and its pages must not reach out anyway)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser import RENDER_TIMEOUT_MS, Visit, launched, visiting
from tests.component.conftest import LiveHomei

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    with launched() as browser:
        yield browser


@pytest.fixture
def visit(browser: Browser, homei_process: LiveHomei) -> Iterator[Visit]:
    """A fresh browser context recording every request; those leaving the device are refused."""
    with visiting(browser, homei_process.url) as recorded:
        yield recorded


def _settle(visit: Visit) -> None:
    """Wait until the page has made every request it is going to make."""
    visit.page.wait_for_load_state("networkidle", timeout=RENDER_TIMEOUT_MS)


def test_swagger_ui_renders_from_the_device_alone(
    visit: Visit, homei_process: LiveHomei, tmp_path: Path
) -> None:
    page = visit.page
    response = page.goto(f"{homei_process.url}/docs", timeout=RENDER_TIMEOUT_MS)
    assert response is not None and response.status == 200
    title = page.locator(".swagger-ui .info .title")
    title.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert "Homei API" in title.inner_text()
    page.locator(".swagger-ui .opblock").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert page.locator(".swagger-ui .opblock").count() >= 20
    assert page.get_by_text("/api/v1/auth/login", exact=True).count() >= 1
    _settle(visit)
    page.screenshot(path=tmp_path / "swagger-ui.png")

    assert f"{homei_process.url}/openapi.json" in visit.requests
    assert f"{homei_process.url}/docs/static/swagger-ui-bundle.js" in visit.requests
    assert visit.errors == []
    assert visit.foreign() == []


def test_redoc_renders_from_the_device_alone(
    visit: Visit, homei_process: LiveHomei, tmp_path: Path
) -> None:
    page = visit.page
    response = page.goto(f"{homei_process.url}/redoc", timeout=RENDER_TIMEOUT_MS)
    assert response is not None and response.status == 200
    title = page.locator("#redoc h1").first
    title.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert "Homei API" in title.inner_text()
    # An operation's own section (the side menu's entries start collapsed, hence hidden).
    page.locator("#redoc h2", has_text="Log in").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    _settle(visit)
    page.screenshot(path=tmp_path / "redoc.png")

    assert f"{homei_process.url}/openapi.json" in visit.requests
    assert f"{homei_process.url}/docs/static/redoc.standalone.js" in visit.requests
    assert visit.errors == []
    foreign = visit.foreign()
    assert foreign == []
