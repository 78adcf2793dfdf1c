"""Cancelling service installs and updates before their task's first step: the service is
left as it was (no half-declared service, no "installing" or "updating" for ever), and the
next install or update of it runs.

services/ marks a service busy and declares it when the request is accepted, and undoes
that in the task body, which a task cancelled before its first step never runs. The fix
belongs to the services rework (a `OneAtATime(..., key="name", lasts="task")` turn and
`TaskManager.when_finished` for the marks, see homei/core/work.py); until it lands these
tests are expected to fail, strictly, so the fix cannot go unnoticed."""

from __future__ import annotations

import pytest

from tests.component.services.env import call, install, sleeper, wait_task
from tests.docker_env import dockerd_available

pytestmark = [
    pytest.mark.skipif(not dockerd_available(), reason="dockerd is not installed"),
    pytest.mark.xfail(strict=True, reason="services/ releases its marks in the task body"),
]


async def test_an_install_cancelled_before_its_first_step_leaves_nothing(homei):
    headers = await homei.auth()
    _, record = await homei.components.services.install(sleeper("early"), "admin")
    # No await between accepting the install and cancelling it: its task never ran a step.
    assert (await homei.components.tasks.cancel(record.id)).status == "cancelled"
    assert "early" not in homei.components.services.busy
    await install(homei, headers, sleeper("early"))


async def test_an_update_cancelled_before_its_first_step_leaves_the_service_as_it_was(homei):
    headers = await homei.auth()
    await install(homei, headers, sleeper("steady"))
    _, record = await homei.components.services.update("steady", {"version": "2"}, "admin")
    assert (await homei.components.tasks.cancel(record.id)).status == "cancelled"
    assert "steady" not in homei.components.services.busy
    accepted = await call(
        homei, "PUT", "/api/v1/services/steady", headers, 202, json={"version": "3"}
    )
    assert (await wait_task(homei, headers, accepted["taskId"]))["status"] == "completed"
