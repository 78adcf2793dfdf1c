"""The containers page in a browser against a live Homei and Docker: every container with its
state and resource use, the images, and loading an image tarball with the upload's progress
through to the engine's answer."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.component.web.conftest import Dashboard
from tests.docker_env import IMAGE

pytestmark = pytest.mark.browser

LONG_MS = 90_000
# Big enough that the upload reports progress more than once.
PAYLOAD_BYTES = 4 * 1024 * 1024


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def save_tarball(path: Path, tag: str) -> Path:
    """An image archive in `docker save`'s layout (manifest, config, one layer holding one
    file of random bytes), written without an engine so the test controls its size."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        _member(tar, "payload.bin", os.urandom(PAYLOAD_BYTES))
    layer_bytes = layer.getvalue()
    diff_id = hashlib.sha256(layer_bytes).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": {"Cmd": ["/payload.bin"]},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
            "history": [{"created_by": "test"}],
        }
    ).encode()
    config_id = hashlib.sha256(config).hexdigest()
    manifest = [
        {"Config": f"{config_id}.json", "RepoTags": [tag], "Layers": [f"{diff_id}/layer.tar"]}
    ]
    with tarfile.open(path, mode="w") as tar:
        _member(tar, f"{diff_id}/layer.tar", layer_bytes)
        _member(tar, f"{config_id}.json", config)
        _member(tar, "manifest.json", json.dumps(manifest).encode())
    return path


def test_containers_images_and_loading_a_tarball(desktop: Dashboard, tmp_path: Path) -> None:
    page = desktop.page
    desktop.sign_in()
    desktop.go("Containers")
    expect(page.get_by_role("heading", name="Containers", level=1)).to_be_visible()
    containers = page.get_by_role("table", name="Containers")
    resident = containers.get_by_role("row").filter(has_text="resident")
    expect(resident).to_contain_text("running")
    # Its live use arrives from the stats route: a percentage, not the placeholder.
    expect(resident.locator("td[data-title=CPU]")).to_contain_text("%", timeout=LONG_MS)
    images = page.get_by_role("table", name="Images")
    expect(images).to_contain_text(IMAGE)

    tag = "homei-test/loaded:1"
    tarball = save_tarball(tmp_path / "image.tar", tag)
    page.get_by_label("Image tarball").set_input_files(tarball)
    page.get_by_role("button", name="Load image").click()
    progress = page.get_by_role("progressbar", name="Upload progress")
    expect(progress).to_have_attribute("aria-valuenow", "100", timeout=LONG_MS)
    expect(page.get_by_text(f"Loaded: {tag}")).to_be_visible(timeout=LONG_MS)
    expect(images).to_contain_text(tag)
    status, answer = desktop.api("GET", "/api/v1/images")
    assert status == 200 and any(tag in image["tags"] for image in answer["images"])
    desktop.shot("containers")
    desktop.assert_clean()
