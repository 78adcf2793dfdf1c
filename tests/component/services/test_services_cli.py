"""`homei images` and `homei services` against a daemon on a real Docker engine: an image
loaded with no registry, then a service installed from it, controlled and removed."""

from __future__ import annotations

import json

import pytest

from tests.component.test_cli import homei_cli
from tests.daemon_process import start_homei
from tests.docker_env import IMAGE, DockerEngine, dockerd_available

pytestmark = pytest.mark.skipif(not dockerd_available(), reason="dockerd is not installed")


@pytest.fixture
def device(tmp_path):
    engine = DockerEngine(tmp_path / "docker").up()
    try:
        engine.make_image()
        (tmp_path / "homei").mkdir()
        homei = start_homei(
            tmp_path / "homei", HOMEI_DOCKER__URL=engine.host, HOMEI_DOCKER__REQUIRED="true"
        )
        try:
            yield homei, engine
        finally:
            homei.stop()
    finally:
        engine.down()


def test_load_an_image_then_install_control_and_remove_a_service(tmp_path, device):
    homei, engine = device
    login = homei_cli(
        tmp_path, "login", "--url", homei.url, "--password-stdin", stdin=homei.admin_password + "\n"
    )
    assert login.returncode == 0, login.stderr

    # An image that exists nowhere but in a tarball, as on a device with no registry.
    engine.run("tag", IMAGE, "homei-test/offline:2")
    tarball = engine.save_image("homei-test/offline:2", tmp_path / "image.tar")
    engine.run("rmi", "homei-test/offline:2")
    assert engine.image_id("homei-test/offline:2") is None
    loaded = homei_cli(tmp_path, "images", "load", str(tarball), "--json")
    assert loaded.returncode == 0, loaded.stderr
    assert "homei-test/offline:2" in json.loads(loaded.stdout)["images"]

    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "name": "clock",
                "image": "homei-test/offline:2",
                "stop_timeout": 1,
                "command": ["sh", "-c", "while true; do echo tick; sleep 0.2; done"],
            }
        )
    )
    added = homei_cli(tmp_path, "services", "add", "-f", str(spec))
    assert added.returncode == 0, added.stderr
    listed = json.loads(homei_cli(tmp_path, "services", "ls", "--json").stdout)
    assert [(s["name"], s["status"]) for s in listed["services"]] == [("clock", "running")]
    logs = homei_cli(tmp_path, "services", "logs", "clock", "--tail", "3")
    assert logs.returncode == 0 and "tick" in logs.stdout, logs.stderr

    stopped = homei_cli(tmp_path, "services", "stop", "clock", "--timeout", "1")
    assert stopped.returncode == 0, stopped.stderr
    assert not engine.inspect("clock")["State"]["Running"]
    started = homei_cli(tmp_path, "services", "start", "clock")
    assert started.returncode == 0, started.stderr
    assert engine.inspect("clock")["State"]["Running"]

    again = homei_cli(tmp_path, "services", "add", "-f", str(spec))
    assert again.returncode == 1 and "SERVICE_ALREADY_EXISTS" in again.stderr
    removed = homei_cli(tmp_path, "services", "rm", "clock", "--remove-data")
    assert removed.returncode == 0, removed.stderr
    assert engine.containers("io.homei.service=clock") == []
    missing = homei_cli(tmp_path, "services", "show", "clock")
    assert missing.returncode == 1 and "SERVICE_NOT_FOUND" in missing.stderr
