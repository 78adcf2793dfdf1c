"""`GET/PUT /api/v1/fleet` and `homei fleet status` against a real `homei serve` and the DDI
server test double: settings checked, written to the settings file, applied at once, and
the token never shown."""

from __future__ import annotations

import asyncio
import json
import tomllib

from tests.component.fleet.ddi_double import TOKEN, DdiDouble
from tests.component.test_cli import homei_cli
from tests.daemon_process import start_homei


async def test_settings_are_checked_written_and_applied(tmp_path):
    server = await DdiDouble().start()
    homei = await asyncio.to_thread(start_homei, tmp_path)
    try:
        token = await asyncio.to_thread(homei.login)

        async def call(method: str, body: dict | None = None) -> tuple[int, dict]:
            return await asyncio.to_thread(homei.request, method, "/api/v1/fleet", body, token)

        status, shown = await call("GET")
        assert status == 200 and shown["settings"]["enabled"] is False and not shown["running"]
        status, refused = await call("PUT", {"enabled": True})
        assert status == 400 and refused["error"]["code"] == "CONFIG_ERROR", refused
        status, refused = await call("PUT", {"poll_min": 10, "poll_max": 5})
        assert status == 400 and "poll_min" in refused["error"]["message"]
        change = {"enabled": True, "url": server.url, "token": TOKEN, "controller_id": "dev-7",
                  "poll_min": 0.2, "poll_max": 1.0}  # fmt: skip
        status, changed = await call("PUT", change)
        assert status == 200, changed
        assert changed["running"] and changed["settings"]["token"] == "********"
        assert TOKEN not in json.dumps(changed)
        written = tomllib.loads((tmp_path / "none.toml").read_text())["fleet"]
        assert (tmp_path / "none.toml").stat().st_mode & 0o077 == 0  # it holds the token
        assert written["url"] == server.url and written["controller_id"] == "dev-7"
        async with asyncio.timeout(30):
            while server.polls < 2:
                await asyncio.sleep(0.05)
        assert server.auth[-1] == f"TargetToken {TOKEN}"
        # The redacted token sent back unchanged keeps the real one.
        status, _ = await call("PUT", {**change, "token": "********", "poll_max": 2.0})
        assert status == 200 and server.auth[-1] == f"TargetToken {TOKEN}"
        status, shown = await call("GET")
        assert shown["last_poll"] and shown["last_answer"]["sleep"] == "00:00:01"

        cli = lambda *args: homei_cli(tmp_path, *args)  # noqa: E731
        login = await asyncio.to_thread(
            homei_cli, tmp_path, "login", "--url", homei.url, "--password-stdin",
            stdin=homei.admin_password,
        )  # fmt: skip
        assert login.returncode == 0, login.stderr
        status_out = await asyncio.to_thread(cli, "fleet", "status")
        assert status_out.returncode == 0, status_out.stderr
        assert "fleet: polling" in status_out.stdout and "dev-7" in status_out.stdout
        as_json = await asyncio.to_thread(cli, "fleet", "status", "--json")
        assert json.loads(as_json.stdout)["settings"]["token"] == "********"
    finally:
        await asyncio.to_thread(homei.stop)
        await server.stop()
