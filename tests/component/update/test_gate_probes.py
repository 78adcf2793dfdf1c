"""The boot health gate's counting, against a probe server that replays a script of answers:
`passes` healthy answers in a row, and only in a row, mark the slot good; a window without
them marks it bad and asks for exactly one reboot. RAUC is the real one; the verdicts are
RAUC's marks on the dev bootloader."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from homei.update.gate import GateSettings, GateVerdict, HealthGate
from homei.update.history import UpdateResult
from tests.component.update.env import Reboots
from tests.rauc_env import rauc_available

pytestmark = pytest.mark.skipif(not rauc_available(), reason="RAUC is not installed")

PASSES = 3


class ProbeServer:
    """A real HTTP server answering `/health/ready` from a script of status codes; once the
    script is used up it answers 503, so no verdict can come from beyond it."""

    def __init__(self, script: Sequence[int], *, repeat: bool = False) -> None:
        self._script = list(script)
        self._repeat = repeat
        self.answered: list[int] = []
        app = web.Application()
        app.router.add_get("/health/ready", self._ready)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("/health/ready"))

    async def _ready(self, _: web.Request) -> web.Response:
        index = len(self.answered)
        if self._repeat:
            status = self._script[index % len(self._script)]
        else:
            status = self._script[index] if index < len(self._script) else 503
        self.answered.append(status)
        if status == 200:
            return web.json_response({"status": "ready"})
        return web.json_response(
            {"error": {"code": "NOT_READY", "message": f"probe {index + 1} not ready"}},
            status=status,
        )


@pytest.fixture
async def awaiting_boot(homei, device) -> int:
    """An install recorded as written to the slot RAUC booted: the gate has a boot to judge."""
    history = homei.components.updates.history
    booted = homei.components.updates.rauc.boot_slot
    entry = await history.begin("task-gate", "gate.raucb", booted, "1.0.0")
    await history.finish(entry, UpdateResult.INSTALLED, "Installed", to_slot=booted)
    return entry


@pytest.fixture
async def probes() -> AsyncIterator[list[ProbeServer]]:
    started: list[ProbeServer] = []
    yield started
    for probe in started:
        await probe.server.close()


async def judge(homei, probe: ProbeServer, window: float) -> tuple[GateVerdict | None, Reboots]:
    await probe.server.start_server()
    reboots = Reboots()
    gate = HealthGate(
        homei.components.updates,
        homei.components.events,
        probe.url,
        reboots,
        GateSettings(window=window, interval=0.02, passes=PASSES, rauc_wait=10),
    )
    return await gate.run(), reboots


@pytest.mark.parametrize(
    "script",
    [
        [200, 200, 200],
        [503, 200, 200, 200],
        [200, 200, 503, 200, 200, 200],
        [200, 503, 200, 200, 503, 503, 200, 200, 200],
    ],
    ids=["three-passes", "fail-first", "reset-after-two", "resets-twice"],
)
async def test_good_after_exactly_passes_in_a_row(homei, device, awaiting_boot, probes, script):
    probe = ProbeServer(script)
    probes.append(probe)
    verdict, reboots = await judge(homei, probe, window=60.0)
    assert verdict is GateVerdict.GOOD
    assert probe.answered == script  # not one probe fewer (or more) than the script needs
    assert reboots.count == 0
    state = await asyncio.to_thread(device.bootloader_state)
    assert state["states"][state["booted"]] == "good"
    entry = (await homei.components.updates.history.list())[0]
    assert entry.id == awaiting_boot and entry.result == "good"


async def test_alternating_answers_are_bad_and_reboot_once(homei, device, awaiting_boot, probes):
    probe = ProbeServer([200, 503], repeat=True)
    probes.append(probe)
    verdict, reboots = await judge(homei, probe, window=1.5)
    assert verdict is GateVerdict.BAD
    assert len(probe.answered) >= 2 * PASSES  # enough probes that a miscount would have shown
    assert reboots.count == 1
    state = await asyncio.to_thread(device.bootloader_state)
    assert state["states"][state["booted"]] == "bad"
    entry = (await homei.components.updates.history.list())[0]
    assert entry.result == "bad" and "probe" in entry.message
