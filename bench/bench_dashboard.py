"""What the dashboard costs the browser and the device.

1. Time to live figures: `homei serve` on a fresh data directory; for each of `--runs`
   cold visits in headless Chromium (a new context: no cache, no cookies), the session cookie
   is set through the cookie API (`POST /api/v1/auth/session`), then the clock runs from
   navigation to `/#/` until the overview has drawn its first figures from `/ws/monitoring`
   (read in the page: `performance.now()` at that moment, as navigation starts at 0). The
   anchor, in the same run and the same kind of context: navigation to `/health/live` until
   its JSON has loaded, the floor of browser and server. Also the JavaScript and CSS the first
   page loads, gzipped, from `homei/web/manifest.json`, against the 100 KB budget.
2. The device's CPU with one dashboard open: two `homei serve` side by side (sampling every
   second, as shipped), one with a signed-in browser on the overview, one with none, over the
   same `--seconds` window (at least 60). CPU from /proc/PID/stat (utime + stime). Target: the
   open dashboard costs under 1 % of one core.

Everything listens on 127.0.0.1 and runs in a temp dir. Results are printed and written to
`bench/results/dashboard.json`.

    .venv/bin/python bench/bench_dashboard.py [--runs 5] [--seconds 60]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench_monitor import cpu_seconds
from harness import (
    BENCH_DIR,
    HOST,
    BenchError,
    Running,
    homei_server,
    on_sigterm,
    positive_int,
    precompile_homei,
    report,
    running,
)
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

sys.path.insert(0, str(BENCH_DIR.parent))

from tests.browser import CHROMIUM, CHROMIUM_ARGS

RESULTS_FILE = BENCH_DIR / "results" / "dashboard.json"
MANIFEST = BENCH_DIR.parent / "homei" / "web" / "manifest.json"
BUDGET_BYTES = 100 * 1024
TARGET_CPU_PERCENT = 1.0
TIMEOUT_MS = 60_000
SETTLE_S = 5.0
# True once the overview shows figures that came from the socket.
LIVE = "() => document.querySelector('#live-updated')?.textContent.startsWith('Updated')"
VIEWPORT = {"width": 1280, "height": 900}


def signed_in(browser: Browser, url: str, password: str) -> BrowserContext:
    """A new context holding a session cookie, set through the cookie API."""
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    answer = context.request.post(
        f"{url}/api/v1/auth/session",
        headers={"X-Homei-Session": "1"},
        data={"username": "admin", "password": password},
    )
    if answer.status != 201:
        text = answer.text()[:200]
        context.close()
        raise BenchError(f"the cookie sign-in answered {answer.status}: {text}")
    return context


def open_overview(context: BrowserContext, url: str) -> tuple[Page, float]:
    """A page on the overview; milliseconds from navigation to its first live figures."""
    page = context.new_page()
    page.goto(f"{url}/#/", wait_until="commit")
    handle = page.wait_for_function(f"() => ({LIVE})() && performance.now()", polling="raf")
    return page, float(handle.json_value())


def time_to_live(browser: Browser, url: str, password: str, runs: int) -> dict[str, float]:
    """Median over `runs` cold visits: to the first live figures, and to `/health/live`."""
    live, anchor = [], []
    for _ in range(runs):
        with contextlib.closing(signed_in(browser, url, password)) as context:
            page, ms = open_overview(context, url)
            live.append(ms)
        with contextlib.closing(browser.new_context(viewport=VIEWPORT)) as context:
            page = context.new_page()
            page.goto(f"{url}/health/live", wait_until="load")
            anchor.append(float(page.evaluate("() => performance.now()")))
    return {
        "live_figures_ms": statistics.median(live),
        "live_figures_max_ms": max(live),
        "anchor_health_live_ms": statistics.median(anchor),
    }


def password_of(data_dir: Path) -> str:
    return (data_dir / "initial-admin-password").read_text().strip()


def url_of(server: Running) -> str:
    return f"http://{HOST}:{server.port}"


def cpu_with_dashboard(
    browser: Browser, workdir: Path, homei: str, seconds: int
) -> dict[str, float]:
    """CPU share of a daemon with the overview open against one with no dashboard."""
    with contextlib.ExitStack() as stack:
        daemons = {}
        for name in ("open", "none"):
            data_dir = workdir / f"cpu-{name}"
            data_dir.mkdir()
            daemons[name] = stack.enter_context(
                running(homei_server(homei, data_dir, ""), data_dir)
            )
        shown = daemons["open"]
        context = stack.enter_context(
            contextlib.closing(signed_in(browser, url_of(shown), password_of(workdir / "cpu-open")))
        )
        page, _ = open_overview(context, url_of(shown))
        time.sleep(SETTLE_S)  # past the start-up work that follows READY, on both
        start = {name: cpu_seconds(d.proc.pid) for name, d in daemons.items()}
        began = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - began
        if not page.evaluate(LIVE):
            raise BenchError("the overview stopped showing live figures")
        share = {
            name: (cpu_seconds(d.proc.pid) - start[name]) / elapsed * 100
            for name, d in daemons.items()
        }
    return {
        "cpu_percent_dashboard_open": share["open"],
        "cpu_percent_no_dashboard": share["none"],
        "dashboard_cpu_percent": share["open"] - share["none"],
    }


def first_page_gzipped() -> int:
    """Bytes of JavaScript and CSS the first page loads, gzipped (the build's count)."""
    if not MANIFEST.exists():
        raise BenchError("the dashboard is not built: run `npm run build` in web/")
    return int(json.loads(MANIFEST.read_text())["gzipped"])


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise BenchError(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=positive_int(100), default=5, help="cold visits")
    parser.add_argument("--seconds", type=positive_int(3600), default=60, help="CPU window")
    args = parser.parse_args()
    if args.seconds < 60:
        parser.error("--seconds must be at least 60")
    signal.signal(signal.SIGTERM, on_sigterm)
    homei = str(Path(sys.executable).parent / "homei")
    precompile_homei()
    gzipped = first_page_gzipped()
    with tempfile.TemporaryDirectory(prefix="homei-bench-dashboard-") as tmp, chromium() as browser:
        workdir = Path(tmp)
        data_dir = workdir / "visits"
        data_dir.mkdir()
        with running(homei_server(homei, data_dir, ""), data_dir) as server:
            visits = time_to_live(browser, url_of(server), password_of(data_dir), args.runs)
        cpu = cpu_with_dashboard(browser, workdir, homei, args.seconds)
    results = {
        "runs": args.runs,
        "seconds": args.seconds,
        **visits,
        "first_page_gzipped_bytes": gzipped,
        "budget_bytes": BUDGET_BYTES,
        **cpu,
    }
    checks = {
        "first_page_gzipped_bytes < 100 KB": gzipped < BUDGET_BYTES,
        "dashboard_cpu_percent < 1": results["dashboard_cpu_percent"] < TARGET_CPU_PERCENT,
    }
    return report(results, checks, RESULTS_FILE, 30)


if __name__ == "__main__":
    sys.exit(main())
