"""A real systemd-journald writing into a test's folder, and a way to log as a unit.

journald runs in a private mount namespace (its own /run and /var/log/journal, the latter a
bind of the test's folder), so the host's logging is untouched. A line is logged "as a unit"
by a process moved into the cgroup `system.slice/UNIT` first: journald names the unit from
the sender's cgroup, as it does for a service systemd started, so `_SYSTEMD_UNIT` is real.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from pathlib import Path

from tests.processes import wait_for

JOURNALD = Path("/lib/systemd/systemd-journald")


def _cgroups() -> Path:
    # journald reads a sender's unit from the hierarchy systemd tracks processes in: the
    # unified one (cgroup v2, or v2 beside v1 on a hybrid host), else v1's name=systemd.
    root = Path("/sys/fs/cgroup")
    for tree in (root / "unified", root):
        if (tree / "cgroup.procs").exists() and (tree / "cgroup.controllers").exists():
            return tree / "system.slice"
    return root / "systemd" / "system.slice"


_CGROUPS = _cgroups()
_CONFIG = "[Journal]\nStorage=persistent\nReadKMsg=no\nForwardToSyslog=no\nForwardToWall=no\n"


def available() -> str | None:
    """None when a private journald can run here; the reason it cannot otherwise."""
    if os.geteuid() != 0:
        return "needs root (mount namespaces, cgroups)"
    if not JOURNALD.exists():
        return "systemd-journald is not installed"
    if not _CGROUPS.parent.is_dir():
        return "no cgroup hierarchy to log as a unit from"
    return None


class JournaldEnv:
    """journald writing to `directory`; `log()` sends lines as a unit or as a plain process."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._config = directory.parent / "journald.conf"
        self._process: subprocess.Popen[bytes] | None = None
        self._units: list[Path] = []

    def start(self) -> None:
        """Start journald and wait until its socket answers."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._config.write_text(_CONFIG)
        script = (
            "set -e; mount -t tmpfs none /run; mkdir -p /run/systemd/journal; "
            # journald writes to /var/log/journal only once told the disk is ready.
            "touch /run/systemd/journal/flushed; "
            f"mount --bind {self.directory} /var/log/journal; "
            f"mount --bind {self._config} /etc/systemd/journald.conf; "
            f"exec {JOURNALD}"
        )
        self._process = subprocess.Popen(
            ["unshare", "--mount", "sh", "-c", script],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(
            lambda: self._ns_exists("/run/systemd/journal/stdout"),
            20,
            lambda: RuntimeError("journald did not open its socket"),
        )

    def _ns_exists(self, path: str) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise RuntimeError(f"journald exited with {self._process.returncode}")
        return Path(f"/proc/{self._process.pid}/root{path}").exists()

    def log(
        self, identifier: str, lines: list[str], *, unit: str | None = None, priority: str = "info"
    ) -> None:
        """Send `lines` through `systemd-cat` (as `unit` when given); return once they are in
        the journal files. The sender stays until then: journald reads a stream's unit from
        its sender's cgroup when it takes the lines in, and a sender gone by then has none."""
        assert self._process is not None
        enter = ""
        if unit:
            group = _CGROUPS / unit
            group.mkdir(parents=True, exist_ok=True)
            if group not in self._units:
                self._units.append(group)
            enter = f"echo $$ > {group}/cgroup.procs; "
        before = self._count(identifier, lines[-1])
        sender = subprocess.Popen(
            [
                "nsenter",
                f"--target={self._process.pid}",
                "--mount",
                "sh",
                "-c",
                f"{enter}exec systemd-cat -t {identifier} -p {priority}",
            ],
            stdin=subprocess.PIPE,
        )
        assert sender.stdin is not None
        try:
            sender.stdin.write("\n".join(lines).encode() + b"\n")
            sender.stdin.flush()
            wait_for(
                lambda: self._count(identifier, lines[-1]) > before,
                20,
                lambda: RuntimeError(f"journald did not take in {lines[-1]!r}"),
            )
        finally:
            sender.stdin.close()
            sender.wait(timeout=20)

    def _count(self, identifier: str, message: str) -> int:
        self.sync()
        found = subprocess.run(
            [
                "journalctl",
                f"--directory={self.directory}",
                "--output=cat",
                f"SYSLOG_IDENTIFIER={identifier}",
                f"MESSAGE={message}",
            ],
            capture_output=True,
            timeout=20,
            check=False,
        )
        return len(found.stdout.splitlines())

    def sync(self) -> None:
        """Everything sent so far written to the journal files."""
        assert self._process is not None
        subprocess.run(
            ["nsenter", f"--target={self._process.pid}", "--mount", "journalctl", "--sync"],
            check=True,
            timeout=20,
            capture_output=True,
        )

    def stop(self) -> None:
        """Stop journald and remove the cgroups the test made (once their processes are gone)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        give_up = time.monotonic() + 10
        for group in self._units:
            while group.exists():
                with contextlib.suppress(OSError):
                    group.rmdir()
                if time.monotonic() > give_up:
                    break
                time.sleep(0.05)


def unit_name() -> str:
    """A unit name no other test uses."""
    return f"homei-test-{uuid.uuid4().hex[:8]}.service"
