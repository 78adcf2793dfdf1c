"""A real systemd for tests: a Debian root filesystem booted as PID 1 in a Docker container.

The root filesystem comes from `debootstrap --variant=minbase` with systemd, dbus and procps
(about 40 s the first time), cached as a tarball under var/systemd/cache (or
$HOMEI_SYSTEMD_DIR) keyed by suite and package list, and imported into the test's private
Docker engine (tests/docker_env.py). The container runs with the host's network, so a unit's
port answers on the host's loopback, and shares folders with the host:

- `bus_dir` on its /run/dbus: `bus_address` is its system bus, for Homei on the host;
- `unit_dir` on its /etc/systemd/system (seeded from the image's own, so its targets and
  wanted-by links are there): Homei writes unit files here and systemd reads them;
- `journal_dir` on its /var/log/journal: journald keeps the journal there (persistent);
- `state_dir` on its /var/lib/private: units' state folders (DynamicUser=), for backups;
- every folder in `shared` at the SAME absolute path inside as outside, so a path Homei
  writes into a unit (an artefact's ExecStart) is valid in both.

    box = SystemdContainer(engine, tmp_path / "systemd", shared=[artifacts]).up()
    box.systemctl("is-active", "homei-svc-web.service")
    box.restart()  # systemd gone and back: `docker restart`
    box.down()

Needs root, Debian's `debootstrap` and network access to the mirror on a cold cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from tests.docker_env import DockerEngine, DockerEnvError, docker_cli
from tests.processes import run_command, wait_for

REPO = Path(__file__).resolve().parent.parent
SUITE = "bookworm"
PACKAGES = "systemd,systemd-sysv,dbus,procps"
MIRROR = os.environ.get("HOMEI_SYSTEMD_MIRROR", "http://deb.debian.org/debian")
CACHE = Path(os.environ.get("HOMEI_SYSTEMD_DIR") or REPO / "var" / "systemd") / "cache"
BUILD_TIMEOUT = 600.0
BOOT_TIMEOUT = 60.0
# DESIGN's recipe: systemd as PID 1 without --privileged (which fails on this machine kind).
RUN_FLAGS = (
    "--cap-add",
    "SYS_ADMIN",
    "--security-opt",
    "seccomp=unconfined",
    "--cgroupns=host",
    "-v",
    "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs",
    "/run",
    "--tmpfs",
    "/run/lock",
    "-e",
    "container=docker",
    "--network",
    "host",
)


def cache_key() -> str:
    """The root filesystem's cache key: suite, package list and mirror."""
    return hashlib.sha256(f"{SUITE} {PACKAGES} {MIRROR}".encode()).hexdigest()[:16]


def rootfs_tar() -> Path:
    """The cached root filesystem tarball, built with debootstrap when missing."""
    tar = CACHE / f"rootfs-{cache_key()}.tar"
    if tar.is_file() and tar.stat().st_size > 0:
        return tar
    CACHE.mkdir(parents=True, exist_ok=True)
    tree = CACHE / f"tree-{os.getpid()}"
    shutil.rmtree(tree, ignore_errors=True)
    try:
        _run(
            ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(tree), MIRROR],
            what="debootstrap",
            timeout=BUILD_TIMEOUT,
        )
        # A machine id of its own is made at boot; an empty file tells systemd so.
        (tree / "etc" / "machine-id").write_text("")
        part = tar.with_suffix(f".part{os.getpid()}")
        _run(
            ["tar", "-C", str(tree), "--numeric-owner", "-cf", str(part), "."],
            what="tar rootfs",
            timeout=BUILD_TIMEOUT,
        )
        part.replace(tar)  # atomic: a concurrent build loses nothing but time
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    return tar


class SystemdContainer:
    """systemd booted as PID 1 in a container of `engine`, its folders under `directory`."""

    def __init__(
        self,
        engine: DockerEngine,
        directory: str | os.PathLike[str],
        *,
        shared: list[Path] | None = None,
        name: str = "homei-systemd",
    ) -> None:
        self.engine = engine
        self.dir = Path(directory).resolve()
        self.shared = [Path(p).resolve() for p in shared or []]
        self.name = name
        self.image = f"homei-test/systemd:{cache_key()}"

    @property
    def bus_dir(self) -> Path:
        return self.dir / "dbus"

    @property
    def bus_address(self) -> str:
        """The container's system bus, as a D-Bus address the host can dial."""
        return f"unix:path={self.bus_dir / 'system_bus_socket'}"

    @property
    def unit_dir(self) -> Path:
        return self.dir / "units"

    @property
    def journal_dir(self) -> Path:
        return self.dir / "journal"

    @property
    def state_dir(self) -> Path:
        """The container's /var/lib/private: DynamicUser= units' state folders."""
        return self.dir / "state"

    def up(self) -> SystemdContainer:
        """Import the image if needed, boot the container; returns once systemd is running."""
        if self.engine.image_id(self.image) is None:
            tar = rootfs_tar()
            with tar.open("rb") as stream:
                result = subprocess.run(
                    [
                        docker_cli(),
                        "import",
                        "--change",
                        'CMD ["/sbin/init"]',
                        "-",
                        self.image,
                    ],
                    stdin=stream,
                    capture_output=True,
                    text=True,
                    env=self.engine.env(),
                    timeout=BUILD_TIMEOUT,
                    check=False,
                )
            if result.returncode != 0:
                raise DockerEnvError(f"docker import: {result.stderr}")
        for folder in (self.bus_dir, self.journal_dir, *self.shared):
            folder.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(mode=0o700, exist_ok=True)  # systemd wants it private
        if not self.unit_dir.exists():
            self._seed_units()
        mounts: list[str] = []
        for host, inside in (
            (self.bus_dir, "/run/dbus"),
            (self.unit_dir, "/etc/systemd/system"),
            (self.journal_dir, "/var/log/journal"),
            (self.state_dir, "/var/lib/private"),
            *((p, str(p)) for p in self.shared),
        ):
            mounts += ["-v", f"{host}:{inside}"]
        self.engine.run("rm", "-f", self.name, check=False)
        self.engine.run("run", "-d", "--name", self.name, *RUN_FLAGS, *mounts, self.image)
        self.wait_running()
        return self

    def wait_running(self, timeout: float = BOOT_TIMEOUT) -> None:
        """Wait until systemd reports the system running (or degraded) and the bus answers."""

        def booted() -> bool:
            result = self.systemctl("is-system-running", check=False)
            state = result.stdout.strip()
            return state in ("running", "degraded") and self.socket_ready()

        wait_for(booted, timeout, lambda: DockerEnvError(f"systemd did not boot\n{self.logs()}"))

    def socket_ready(self) -> bool:
        return (self.bus_dir / "system_bus_socket").exists()

    def restart(self) -> None:
        """systemd gone and back: the container restarted; returns once it runs again."""
        self.engine.run("restart", "-t", "5", self.name)
        self.wait_running()

    def exec(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command in the container."""
        return self.engine.run("exec", self.name, *args, check=check)

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`systemctl` inside the container."""
        return self.exec("systemctl", *args, check=check)

    def logs(self) -> str:
        result = self.engine.run("logs", "--tail", "40", self.name, check=False)
        return result.stdout + result.stderr

    def down(self) -> None:
        """Remove the container; its folders stay."""
        self.engine.run("rm", "-f", self.name, check=False)

    def _seed_units(self) -> None:
        # The image's own unit folder (targets' wants links), so the mount hides nothing.
        staging = self.dir / "seed"
        staging.mkdir(parents=True, exist_ok=True)
        _run(
            ["tar", "-C", str(staging), "-xf", str(rootfs_tar()), "./etc/systemd/system"],
            what="seed unit folder",
            timeout=60,
        )
        (staging / "etc" / "systemd" / "system").rename(self.unit_dir)
        shutil.rmtree(staging)


def _run(command: list[str], *, what: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return run_command(
        command, what=what, timeout=timeout, error=DockerEnvError, log_tail=lambda: ""
    )
