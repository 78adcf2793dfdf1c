"""The systems and jobs page in Chromium: a system added through the form and its connection
test's failure shown, a command run on the device itself and on that system with each one's
output and outcome arriving live, the job in the history, and the system deleted again."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.component.web.conftest import Dashboard

pytestmark = pytest.mark.browser


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_run_a_command_on_several_systems_and_watch_the_output(
    desktop: Dashboard, tmp_path: Path
) -> None:
    page = desktop.page
    tag = uuid.uuid4().hex[:6]
    nowhere = f"web-nowhere-{tag}"
    desktop.sign_in()
    desktop.go("Systems & jobs")
    expect(page.get_by_role("heading", name="Systems & jobs", level=1)).to_be_visible()
    systems = page.get_by_role("table", name="Systems jobs can run on")
    expect(systems).to_contain_text("this device")

    page.get_by_label("Name", exact=True).fill(nowhere)
    page.get_by_label("Host name or address").fill("127.0.0.1")
    page.get_by_label("SSH port").fill(str(_closed_port()))
    page.get_by_label("User", exact=True).fill("nobody")
    page.get_by_label("Password (empty: the device's key)").fill("not-used-1")
    page.get_by_role("button", name="Add system").click()
    row = systems.get_by_role("row").filter(has_text=nowhere)
    expect(row).to_contain_text("nobody@127.0.0.1")
    row.get_by_role("button", name=f"Test {nowhere}").click()
    expect(row).to_contain_text("failed")

    # The command waits for the test between its lines: the first must show while it runs.
    go_on = tmp_path / "go-on"
    command = (
        f"echo hello-{tag}; while [ ! -e {go_on} ]; do sleep 0.05; done; "
        f"echo to-stderr-{tag} >&2; exit 3"
    )
    page.get_by_role("textbox", name="Command").fill(command)
    page.get_by_label("Job name (optional)").fill(f"web-job-{tag}")
    choose = page.get_by_role("group", name="Systems")
    choose.get_by_label("local").check()
    choose.get_by_label(nowhere).check()
    page.get_by_role("button", name="Run", exact=True).click()

    output = page.get_by_role("region", name="Output")
    on_device = output.get_by_role("region", name="Output on local")
    expect(on_device).to_contain_text(f"hello-{tag}")
    expect(on_device).to_contain_text("running")
    expect(output.get_by_role("region", name=f"Output on {nowhere}")).to_contain_text("failed")
    go_on.touch()
    expect(on_device).to_contain_text(f"to-stderr-{tag}")
    expect(on_device).to_contain_text("exit 3")
    expect(output.get_by_role("region", name=f"Output on {nowhere}")).to_contain_text("failed")
    expect(output.locator("p[aria-live]")).to_contain_text("failed")
    history = page.get_by_role("table", name="Jobs, newest first")
    expect(history.get_by_role("row").filter(has_text=f"web-job-{tag}")).to_contain_text("failed")
    desktop.assert_clean()
    desktop.shot("systems")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=f"Delete {nowhere}").click()
    expect(row).to_have_count(0)
    desktop.assert_clean()
