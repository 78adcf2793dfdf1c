"""The updates page in Chromium: both slots, the gate's verdict and the history at both widths;
at desktop width a real signed bundle uploaded with its progress bar, installed into the other
slot by the device's RAUC with the task's progress followed to the end, and a slot marked."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.component.web.conftest import Dashboard

pytestmark = pytest.mark.browser


def test_slots_upload_and_install_with_progress(dashboard: Dashboard) -> None:
    page = dashboard.page
    dashboard.sign_in()
    dashboard.go("Updates")
    expect(page.get_by_role("heading", name="Updates", level=1)).to_be_visible()
    _, status = dashboard.api("GET", "/api/v1/update/status")
    slots = page.get_by_role("table", name="Root file system slots")
    for slot in status["slots"]:
        expect(slots).to_contain_text(slot["name"])
    booted = next(s for s in status["slots"] if s["bootname"] == status["bootSlot"])
    expect(slots.get_by_role("row").filter(has_text=booted["name"])).to_contain_text("booted")
    _, gate = dashboard.api("GET", "/api/v1/update/gate")
    expect(page.get_by_role("region", name="Boot health gate")).to_contain_text(gate["state"])
    expect(page.get_by_role("region", name="System")).to_contain_text(status["version"])
    dashboard.assert_clean()
    dashboard.shot("updates")
    if dashboard.width != "desktop":
        return  # the install writes a slot: once is enough

    device = dashboard.live.device
    assert device is not None
    bundle = device.make_bundle(f"7.{time.time_ns() % 10**9}")
    page.get_by_label("Bundle file (.raucb)").set_input_files(bundle.path)
    page.get_by_role("button", name="Upload bundle").click()
    expect(page.get_by_role("progressbar", name="Upload")).to_have_attribute("aria-valuenow", "100")
    bundles = page.get_by_role("table", name="Bundles on the device")
    expect(bundles).to_contain_text(bundle.path.name)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Install {bundle.path.name}").click()
    install = page.get_by_role("progressbar", name="Install")
    expect(install).to_be_visible()
    expect(install).to_have_attribute("aria-valuenow", "100", timeout=120_000)
    expect(page.locator(".install")).to_contain_text("completed")
    history = page.get_by_role("table", name="Installs, newest first")
    expect(history.get_by_role("row").filter(has_text=bundle.path.name)).to_contain_text(
        bundle.version
    )
    _, after = dashboard.api("GET", "/api/v1/update/status")
    assert any(s["bundle_version"] == bundle.version for s in after["slots"])
    dashboard.shot("updates-installed")

    page.get_by_role("button", name=f"Mark {after['bootSlot']} good").click()
    expect(page.get_by_role("status").filter(has_text="good")).to_be_visible()
    dashboard.assert_clean()
