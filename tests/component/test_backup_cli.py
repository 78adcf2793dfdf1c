"""`homei backup ls|create|restore|rm|download|upload` against a real daemon."""

from __future__ import annotations

import json

from tests.component.test_cli import homei_cli
from tests.daemon_process import start_homei


def test_backup_commands(tmp_path):
    (tmp_path / "device").mkdir()
    homei = start_homei(tmp_path / "device", HOMEI_RATE_LIMITS__ENABLED="false")
    try:
        cli = lambda *args, **kw: homei_cli(tmp_path, *args, **kw)  # noqa: E731
        login = cli("login", "--url", homei.url, "--password-stdin", stdin=homei.admin_password)
        assert login.returncode == 0, login.stderr
        made = cli("backup", "create", "cli test", "--homei", "--encrypt", "--password-stdin",
                   "--json", stdin="long enough secret\n")  # fmt: skip
        assert made.returncode == 0, made.stderr
        task = json.loads(made.stdout)
        assert task["status"] == "completed"
        name = task["result"]["name"]
        assert name.startswith("cli-test-")
        listed = cli("backup", "ls")
        assert name in listed.stdout and "True" in listed.stdout
        target = tmp_path / "copy.tar"
        got = cli("backup", "download", name, "-o", str(target))
        assert got.returncode == 0, got.stderr
        assert target.read_bytes() == (tmp_path / "device/data/backups" / name).read_bytes()
        assert cli("backup", "rm", name).returncode == 0
        assert name not in cli("backup", "ls").stdout
        sent = cli("backup", "upload", str(target), "--json")
        assert sent.returncode == 0, sent.stderr
        assert json.loads(sent.stdout)["name"] == "copy.tar"
        wrong = cli("backup", "restore", "copy.tar", "--encrypt", "--password-stdin",
                    stdin="not the secret\n")  # fmt: skip
        assert wrong.returncode == 1 and "Wrong password" in wrong.stderr
        right = cli("backup", "restore", "copy.tar", "--encrypt", "--password-stdin",
                    stdin="long enough secret\n")  # fmt: skip
        assert right.returncode == 0, right.stderr
        assert "Restored copy.tar" in right.stdout
    finally:
        homei.stop()
