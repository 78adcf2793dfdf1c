"""`homei jobs run|ls|show|cancel` against a real `homei serve`, on the device and a real
sshd: each system's output is printed, prefixed with its name, as it comes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.component.test_cli import homei_cli
from tests.conftest import clean_environ, homei_command
from tests.daemon_process import start_homei
from tests.ssh_env import TEST_PASSWORD, TEST_USER, SshServer


def test_jobs_commands(tmp_path: Path, sshd: SshServer) -> None:
    (tmp_path / "device").mkdir()
    homei = start_homei(tmp_path / "device", HOMEI_RATE_LIMITS__ENABLED="false")
    try:
        cli = lambda *args, **kw: homei_cli(tmp_path, *args, **kw)  # noqa: E731
        login = cli("login", "--url", homei.url, "--password-stdin", stdin=homei.admin_password)
        assert login.returncode == 0, login.stderr
        added = cli("systems", "add", "nas", "127.0.0.1", "--port", str(sshd.port), "--user",
                    TEST_USER, "--password-stdin", stdin=TEST_PASSWORD + "\n")  # fmt: skip
        assert added.returncode == 0, added.stderr

        # The first line shows while the command still waits for the second.
        gate = tmp_path / "gate"
        command = f"echo one; while [ ! -e {gate} ]; do sleep 0.05; done; echo two; echo bad >&2"
        run = subprocess.Popen(
            [*homei_command(), "jobs", "run", "--on", "local", "--", command],
            env=clean_environ(XDG_CONFIG_HOME=str(tmp_path / "config")),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert run.stdout is not None
        assert run.stdout.readline() == "[local] one\n"
        gate.touch()
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        assert out == "[local] two\n"
        assert "[local] bad\n" in err and "local: completed (exit 0)" in err

        both = cli("jobs", "run", "--on", "local,nas", "--", "whoami")
        assert both.returncode == 0, both.stderr
        assert sorted(both.stdout.splitlines()) == ["[local] root", f"[nas] {TEST_USER}"]
        failed = cli("jobs", "run", "--on", "nas", "--", "exit", "3")
        assert failed.returncode == 1 and "nas: failed (exited with 3)" in failed.stderr

        listed = cli("jobs", "ls")
        assert listed.returncode == 0 and listed.stdout.startswith("ID")
        assert len(listed.stdout.splitlines()) == 4
        job_id = listed.stdout.splitlines()[1].split()[0]
        shown = json.loads(cli("jobs", "show", job_id).stdout)
        assert shown["executions"][0]["exit_code"] == 3

        later = cli("jobs", "run", "--on", "local", "--at", "2099-01-01T00:00:00Z", "--json",
                    "--", "true")  # fmt: skip
        scheduled = json.loads(later.stdout)
        assert scheduled["next_run_at"] == "2099-01-01T00:00:00.000Z"
        assert cli("jobs", "cancel", scheduled["id"]).returncode == 0
        again = cli("jobs", "cancel", scheduled["id"])
        assert again.returncode == 1 and "JOB_NOT_RUNNING" in again.stderr
        unknown = cli("jobs", "run", "--on", "nowhere", "--", "true")
        assert unknown.returncode == 1 and "SYSTEM_NOT_FOUND" in unknown.stderr
    finally:
        homei.stop()
