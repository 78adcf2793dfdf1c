"""The Docker test harness (tests/docker_env.py) against a real private dockerd."""

from __future__ import annotations

import json
import socket
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_process import free_port
from tests.docker_env import IMAGE, DockerEngine, DockerEnvError, dockerd_available

pytestmark = pytest.mark.skipif(
    not dockerd_available(),
    reason="dockerd is not installed (apt-get install docker.io busybox-static)",
)

LABEL = "io.homei.test=docker-env"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    docker = DockerEngine(tmp_path_factory.mktemp("docker")).up()
    try:
        yield docker
    finally:
        docker.down()


@pytest.fixture
def cleanup(engine: DockerEngine) -> Iterator[None]:
    """Remove the test's containers after it, even when it fails."""
    yield
    if engine.ping():
        engine.remove_containers(LABEL)


def http_get(url: str, deadline: float = 20.0) -> str:
    """GET `url` until it answers 200 (a container's server and Docker's port proxy take a
    moment to come up); AssertionError after `deadline` seconds."""
    give_up = time.monotonic() + deadline
    last: object = None
    while time.monotonic() < give_up:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return response.read().decode()
                last = response.status
        except (urllib.error.URLError, OSError) as err:
            last = err
        time.sleep(0.05)
    raise AssertionError(f"{url} did not answer 200 within {deadline}s: {last}")


def serve(engine: DockerEngine, name: str, port: int, *extra: str) -> str:
    """A container serving /var/www (plus hello.txt, written at start) with busybox httpd on
    127.0.0.1:`port`; returns its ID."""
    result = engine.run(
        "run",
        "--detach",
        "--init",
        "--name",
        name,
        "--label",
        LABEL,
        "--publish",
        f"127.0.0.1:{port}:8080",
        *extra,
        IMAGE,
        "sh",
        "-c",
        f"echo 'hello from {name}' > /var/www/hello.txt && exec httpd -f -v -p 8080 -h /var/www",
    )
    return result.stdout.strip()


def test_engine_answers_on_its_own_socket(engine):
    assert engine.ping()
    host = (engine.dir / "docker-host").read_text().strip()
    assert host == engine.host == f"unix://{engine.socket_path}"
    assert engine.socket_path.is_socket()
    version = engine.version()
    assert version["Os"] == "linux"
    major, minor = (int(part) for part in engine.api_version.split("."))
    assert (major, minor) >= (1, 41)
    # The CLI negotiates down to the engine's version, whatever its own.
    client = engine.run("version", "--format", "{{json .}}")
    assert json.loads(client.stdout)["Server"]["ApiVersion"] == engine.api_version
    info = engine.api("GET", "/info").body
    assert info["DockerRootDir"] == str(engine.data_root)
    assert info["Driver"] in ("overlay2", "vfs", "fuse-overlayfs")


def test_up_is_idempotent(engine):
    pid = engine.pid()
    assert pid is not None
    assert engine.up() is engine
    assert engine.pid() == pid


def test_image_is_made_without_a_registry(engine):
    image = engine.make_image()
    assert image.startswith("sha256:")
    assert engine.make_image() == image  # cached, and the script keeps an existing image
    assert engine.image_id(IMAGE) == image
    config = engine.api("GET", f"/images/{IMAGE}/json").body["Config"]
    assert config["Cmd"] == ["/bin/sh"]
    result = engine.run(
        "run", "--rm", IMAGE, "sh", "-c", "echo $((6 * 7)); ls /bin | grep -cx -e nc -e wget"
    )
    assert result.stdout.split() == ["42", "2"]


def test_container_serves_http_on_loopback(engine, cleanup):
    engine.make_image()
    port = free_port()
    container = serve(engine, "web-loopback", port)
    assert http_get(f"http://127.0.0.1:{port}/hello.txt") == "hello from web-loopback\n"
    assert http_get(f"http://127.0.0.1:{port}/") == "homei test image\n"
    (listed,) = engine.containers(LABEL)
    assert listed["Id"] == container and listed["State"] == "running"
    assert {"IP": "127.0.0.1", "PrivatePort": 8080, "PublicPort": port, "Type": "tcp"} in listed[
        "Ports"
    ]
    assert engine.containers("io.homei.test=nothing-here") == []
    logs = engine.run("logs", container)
    assert "response:200" in logs.stdout + logs.stderr  # httpd -v logs each request


def test_engine_stopped_and_started_again(engine, cleanup):
    engine.make_image()
    port = free_port()
    keeps_running = serve(engine, "web-restarts", port, "--restart", "unless-stopped")
    one_off = engine.run(
        "run", "--detach", "--init", "--label", LABEL, IMAGE, "sleep", "600"
    ).stdout.strip()
    assert http_get(f"http://127.0.0.1:{port}/hello.txt") == "hello from web-restarts\n"

    socket_path = engine.socket_path
    started = time.monotonic()
    engine.stop_engine()
    assert time.monotonic() - started < 15, "containers with --init stop at once"
    assert not engine.ping()
    with (
        socket.socket(socket.AF_UNIX) as client,
        pytest.raises((FileNotFoundError, ConnectionRefusedError)),
    ):
        client.connect(str(socket_path))
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt", timeout=2)

    engine.start_engine()
    assert engine.ping()
    states = {c["Id"]: c["State"] for c in engine.containers(LABEL)}
    assert states[keeps_running] == "running"  # its restart policy
    assert states[one_off] == "exited"  # kept in the data root, not restarted
    assert http_get(f"http://127.0.0.1:{port}/hello.txt") == "hello from web-restarts\n"


def test_engine_killed_and_started_again(engine, cleanup):
    engine.make_image()
    port = free_port()
    container = serve(engine, "web-crash", port, "--restart", "always")
    http_get(f"http://127.0.0.1:{port}/")
    engine.kill_engine()
    assert not engine.ping()
    engine.start_engine()  # clears the orphaned container, then restores it per its policy
    assert engine.inspect(container)["State"]["Running"]
    assert http_get(f"http://127.0.0.1:{port}/hello.txt") == "hello from web-crash\n"


def test_saved_image_loads_back(engine, tmp_path):
    name = "homei-test/busybox:saved"
    image = engine.make_image(name)
    tarball = engine.save_image(name, tmp_path / "busybox.tar")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("manifest.json")
        assert member is not None
        (manifest,) = json.load(member)
    assert manifest["RepoTags"] == [name]
    assert image.removeprefix("sha256:") in manifest["Config"]

    engine.run("image", "rm", name)
    assert engine.image_id(name) is None
    loaded = engine.run("load", "--input", str(tarball))
    assert f"Loaded image: {name}" in loaded.stdout
    assert engine.image_id(name) == image
    assert engine.run("run", "--rm", name, "echo", "loaded").stdout == "loaded\n"


def test_down_leaves_nothing_behind(tmp_path):
    docker = DockerEngine(tmp_path / "engine").up()
    docker.make_image()
    docker.run("run", "--detach", "--init", IMAGE, "sleep", "600")
    socket_path = docker.socket_path
    env = (docker.dir / "dockerd.env").read_text()
    bridge = next(line.split("'")[1] for line in env.splitlines() if line.startswith("bridge="))
    assert Path(f"/sys/class/net/{bridge}").exists()

    docker.down()
    docker.down()  # idempotent
    assert not docker.ping() and not socket_path.exists()
    assert docker.pid() is None
    assert str(docker.dir) not in Path("/proc/mounts").read_text()
    assert not Path(f"/sys/class/net/{bridge}").exists()
    with pytest.raises(DockerEnvError, match="call up"):
        _ = docker.host
