"""A real systemd for tests: `devdevice/systemd-up` boots a Debian root filesystem (built
with debootstrap, cached under var/systemd/cache or $HOMEI_SYSTEMD_DIR) as PID 1 in a
container of the test's private Docker engine (tests/docker_env.py), with the host's
network, so a unit's port answers on the host's loopback. Its folders are the host's:

- `bus_dir` on its /run/dbus: `bus_address` is its system bus, for Homei on the host;
- `unit_dir` on its /etc/systemd/system (seeded from the image's own): Homei writes unit
  files here and systemd reads them;
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

import os
import subprocess
from pathlib import Path

from tests.docker_env import DockerEngine, DockerEnvError, docker_cli
from tests.processes import run_command, wait_for

REPO = Path(__file__).resolve().parent.parent
SYSTEMD_UP = REPO / "devdevice" / "systemd-up"
SYSTEMD_DOWN = REPO / "devdevice" / "systemd-down"
BUILD_TIMEOUT = 600.0  # a cold cache: debootstrap from the mirror
BOOT_TIMEOUT = 60.0


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

    def _script(self, script: Path, *args: str, timeout: float) -> None:
        env = self.engine.env(
            DOCKER=docker_cli(),
            HOMEI_DEV_SYSTEMD_NAME=self.name,
            HOMEI_DEV_TIMEOUT=str(int(BOOT_TIMEOUT)),
        )
        run_command(
            [str(script), *args],
            what=script.name,
            timeout=timeout,
            error=DockerEnvError,
            log_tail=lambda: "",
            env=env,
        )

    def up(self) -> SystemdContainer:
        """Boot the container (building the image if needed); returns once systemd runs."""
        self._script(
            SYSTEMD_UP, str(self.dir), *map(str, self.shared), timeout=BUILD_TIMEOUT + BOOT_TIMEOUT
        )
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
        """Remove the container (devdevice/systemd-down); its folders stay."""
        self._script(SYSTEMD_DOWN, str(self.dir), timeout=60)
