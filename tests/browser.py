"""Pages in a real browser: Debian's Chromium, headless, driven by Playwright, with every
request recorded and anything leaving the device refused (a device is often offline, and its
pages must not reach out anyway)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RENDER_TIMEOUT_MS = 60_000
# Generated in the page, never fetched from anywhere.
LOCAL_SCHEMES = {"data", "blob", "about"}
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}


@dataclass
class Visit:
    """One browser context: every request it made, how those that failed failed, and its
    uncaught script errors and console errors."""

    page: Page
    origin: str
    requests: list[str] = field(default_factory=list)
    failures: dict[str, str | None] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def foreign(self) -> list[str]:
        """The requests for anything but the device, except those the page's own
        Content-Security-Policy stopped inside the browser: they never reach the network."""
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in LOCAL_SCHEMES
            and origin_of(url) != self.origin
            and self.failures.get(url) != "csp"
        ]


def origin_of(url: str) -> str:
    """`scheme://host:port` of a URL; WebSockets count as their HTTP origin."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


@contextmanager
def launched() -> Iterator[Browser]:
    """Debian's Chromium, headless; skips when it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's `chromium` package)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def visiting(
    browser: Browser, url: str, viewport: dict[str, int] | None = None, **options: object
) -> Iterator[Visit]:
    """A fresh context (no cookies, no storage) that records everything and refuses requests
    for anything but `url`'s origin, so a failure shows at once instead of waiting on a
    network the device may not have."""
    context = browser.new_context(viewport=viewport or DESKTOP, service_workers="block", **options)
    context.set_default_timeout(RENDER_TIMEOUT_MS)
    page = context.new_page()
    visit = Visit(page, origin_of(url))

    def route(pending: Route) -> None:
        if origin_of(pending.request.url) == visit.origin:
            pending.continue_()
        else:
            pending.abort("blockedbyclient")

    context.route("**/*", route)
    context.on("request", lambda request: visit.requests.append(request.url))
    context.on(
        "requestfailed", lambda request: visit.failures.update({request.url: request.failure})
    )
    context.on("websocket", lambda socket: visit.requests.append(socket.url))
    page.on("pageerror", lambda error: visit.errors.append(str(error)))
    page.on(
        "console", lambda message: message.type == "error" and visit.console.append(message.text)
    )
    try:
        yield visit
    finally:
        context.close()
