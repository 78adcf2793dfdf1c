"""Cancelling service installs and updates before their task's first step: the service is
left as it was (no half-declared service, no "installing" or "updating" for ever), and the
next install or update of it runs. An install declares its service in its task, and the
marks are cleared by `TaskManager.when_finished`, however the task ends."""

from __future__ import annotations

import pytest

from tests.component.services.env import call, install, sleeper, wait_task
from tests.docker_env import dockerd_available

pytestmark = pytest.mark.skipif(not dockerd_available(), reason="dockerd is not installed")


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
