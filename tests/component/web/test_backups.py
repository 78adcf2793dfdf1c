"""The backups page in Chromium: a partial, password-protected backup created with its task's
progress to the end, downloaded as a file, uploaded again under another name, and restored
with the parts chosen after a confirmation; the schedules listed."""

from __future__ import annotations

import tarfile
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.component.web.conftest import Dashboard

pytestmark = pytest.mark.browser

PASSWORD = "backup-secret-1"


def test_create_download_upload_and_restore(desktop: Dashboard, tmp_path: Path) -> None:
    page = desktop.page
    tag = uuid.uuid4().hex[:6]
    desktop.sign_in()
    desktop.go("Backups")
    expect(page.get_by_role("heading", name="Backups", level=1)).to_be_visible()
    expect(page.get_by_role("region", name="Schedules")).to_be_visible()

    page.get_by_label("Name (optional)").fill(f"web-{tag}")
    page.get_by_label("Partial: the parts chosen").check()
    parts = page.get_by_role("group", name="Parts to back up")
    expect(parts.get_by_label("Homei (settings and database)")).to_be_checked()
    page.get_by_label("Include the services' data (volumes)").uncheck()
    page.get_by_label("Password (optional, 8 characters or more)").fill(PASSWORD)
    page.get_by_role("button", name="Create backup").click()
    progress = page.get_by_role("region", name="Progress")
    expect(progress.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(progress).to_contain_text("completed")
    backups = page.get_by_role("table", name="Backups, newest first")
    row = backups.get_by_role("row").filter(has_text=f"web-{tag}-")
    expect(row).to_contain_text("partial")
    expect(row).to_contain_text("Homei")
    expect(row).to_contain_text("yes")  # encrypted
    name = row.get_by_role("cell").first.inner_text()
    desktop.assert_clean()
    desktop.shot("backups")

    with page.expect_download() as downloading:
        page.get_by_role("button", name=f"Download {name}").click()
    download = downloading.value
    assert download.suggested_filename == name
    copy = tmp_path / f"copy-{tag}.tar"
    download.save_as(copy)
    assert tarfile.is_tarfile(copy)

    page.get_by_label("Backup file (.tar)").set_input_files(copy)
    page.get_by_role("button", name="Upload backup").click()
    expect(page.get_by_role("progressbar", name="Backup upload")).to_have_attribute(
        "aria-valuenow", "100"
    )
    expect(backups.get_by_role("row").filter(has_text=copy.name)).to_contain_text("partial")

    page.get_by_role("button", name=f"Restore {copy.name}").click()
    restore = page.get_by_role("region", name=f"Restore {copy.name}")
    expect(restore.get_by_label("Homei (settings and database)")).to_be_checked()
    restore.get_by_label("Backup password").fill(PASSWORD)
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    restore.get_by_role("button", name="Restore now").click()
    expect(progress).to_contain_text(f"Restoring {copy.name}")
    expect(progress.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(progress).to_contain_text("completed")
    assert questions and copy.name in questions[0]
    desktop.shot("backups-restored")

    for stored in (name, copy.name):
        assert desktop.api("DELETE", f"/api/v1/backups/{stored}")[0] == 200
    desktop.assert_clean()


def test_schedules_added_and_deleted(desktop: Dashboard) -> None:
    page = desktop.page
    name = f"web-nightly-{uuid.uuid4().hex[:6]}"
    desktop.sign_in()
    desktop.go("Backups")
    schedules = page.get_by_role("region", name="Schedules")
    schedules.get_by_label("Schedule name").fill(name)
    schedules.get_by_label("When (cron, UTC: minute hour day month weekday)").fill("30 2 * * *")
    schedules.get_by_label("Keep the last").fill("3")
    schedules.get_by_role("button", name="Add schedule").click()
    row = schedules.get_by_role("table").get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("cron 30 2 * * *")
    expect(row).to_contain_text("last 3")
    listed = desktop.api("GET", "/api/v1/backups/schedules")[1]["schedules"]
    assert [s["next_run"] is not None for s in listed if s["name"] == name] == [True]
    desktop.assert_clean()
    desktop.shot("backups-schedules")

    schedules.get_by_label("Schedule name").fill(f"{name}-bad")
    schedules.get_by_label("When (cron, UTC: minute hour day month weekday)").fill("99 * * * *")
    schedules.get_by_role("button", name="Add schedule").click()
    expect(schedules.get_by_role("alert")).to_contain_text("cron")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=f"Delete schedule {name}").click()
    expect(row).to_have_count(0)
    listed = desktop.api("GET", "/api/v1/backups/schedules")[1]["schedules"]
    assert all(not s["name"].startswith(name) for s in listed)
