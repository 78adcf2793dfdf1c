"""One deployment at a time, from the server's offer to its final feedback: download,
install through the update manager as a task, and `closed` only once the boot health gate
(or RAUC, or the bootloader) has decided."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from homei.core.errors import HomeiError
from homei.core.events import EventBus
from homei.core.task_records import TaskStatus
from homei.core.tasks import TaskManager
from homei.fleet.actions import FINAL, ActionState, ActionStore, FleetAction
from homei.fleet.ddi import (
    Artifact,
    DdiClient,
    DdiError,
    Deployment,
    DeploymentBase,
    Execution,
    Finished,
    status_body,
)
from homei.fleet.download import ArtefactRejected, Download, DownloadFailed
from homei.settings_sections import FleetSettings
from homei.update.bundles import BUNDLE_SUFFIX, safe_name
from homei.update.history import UpdateResult
from homei.update.manager import UpdateManager

_LOGGER = logging.getLogger(__name__)

Reboot = Callable[[], Awaitable[None]]
# The verdicts of `update_history` that end an action, and how.
_VERDICTS = {
    UpdateResult.GOOD: "success",
    UpdateResult.BAD: "failure",
    UpdateResult.ROLLED_BACK: "failure",
    UpdateResult.FAILED: "failure",
    UpdateResult.INTERRUPTED: "failure",
}


def pick_artefact(deployment: Deployment) -> tuple[Artifact, str] | None:
    """The RAUC bundle among the chunks' artefacts (named `*.raucb`, or the only artefact
    offered), with its chunk's version."""
    offered = [(a, c.version) for c in deployment.chunks for a in c.artifacts if a.url]
    for artefact, version in offered:
        if artefact.filename.endswith(BUNDLE_SUFFIX):
            return artefact, version
    return offered[0] if len(offered) == 1 else None


class Deployer:
    """Works through the server's deployment, cancel and confirmation actions."""

    def __init__(
        self,
        settings: Callable[[], FleetSettings],
        actions: ActionStore,
        updates: UpdateManager,
        tasks: TaskManager,
        events: EventBus,
        reboot: Reboot,
    ) -> None:
        self._settings = settings
        self._actions = actions
        self._updates = updates
        self._tasks = tasks
        self._events = events
        self._reboot = reboot
        self._ddi: DdiClient | None = None
        self._wake: Callable[[], None] = lambda: None
        self._worker: asyncio.Task[None] | None = None
        self._worker_action: str | None = None
        self._download: Download | None = None

    def attach(self, ddi: DdiClient, wake: Callable[[], None]) -> None:
        """Use this server connection; `wake` asks for an early poll."""
        self._ddi, self._wake = ddi, wake

    async def stop(self) -> None:
        """Stop a download in progress (it resumes at the next offer)."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    @property
    def busy(self) -> bool:
        """True while a deployment is being worked on."""
        return self._worker is not None and not self._worker.done()

    async def _feedback(
        self,
        action_id: str,
        execution: Execution,
        finished: Finished,
        details: list[str],
        progress: tuple[int, int] | None = None,
        kind: str = "deploymentBase",
    ) -> None:
        assert self._ddi is not None
        await self._ddi.feedback(
            action_id, status_body(execution, finished, details, progress), kind
        )
        self._events.publish(
            "fleet:feedback",
            {
                "action": action_id,
                "kind": kind,
                "execution": execution,
                "finished": finished,
                "details": details,
            },
        )

    async def _state(self, action_id: str, state: ActionState, message: str, **more: Any) -> None:
        await self._actions.update(action_id, state=state, message=message, **more)
        self._events.publish(
            "fleet:action", {"action": action_id, "state": str(state), "message": message}
        )

    async def settle(self) -> None:
        """Send the final feedback every decided action still owes (after a reboot, a
        restart, or a server that was away)."""
        for action in await self._actions.unreported():
            # An action still `installing` while nothing here works on it was cut off by a
            # stop of Homei: its install's record (marked interrupted at start) decides it.
            cut_off = action.state == ActionState.INSTALLING and not self.busy
            if action.state == ActionState.INSTALLED or cut_off:
                action = await self._decide(action)
            if action.state in FINAL and action.kind == "deployment" and action.outcome:
                finished: Finished = "success" if action.outcome == "success" else "failure"
                execution: Execution = (
                    "canceled" if action.state == ActionState.CANCELED else "closed"
                )
                await self._feedback(action.id, execution, finished, [action.message])
                await self._actions.update(action.id, reported=1)
            elif action.state in FINAL:
                await self._actions.update(action.id, reported=1)

    async def _decide(self, action: FleetAction) -> FleetAction:
        """An installed action's outcome, once the boot health gate or RAUC has one."""
        entry = await self._updates.history.by_task(action.task_id) if action.task_id else None
        if entry is None:
            result, message = "failure", "The install's record is missing"
        elif entry.result in _VERDICTS:
            result, message = _VERDICTS[entry.result], entry.message
        else:
            return action  # still waiting for the boot into the new slot
        state = ActionState.SUCCEEDED if result == "success" else ActionState.FAILED
        await self._state(action.id, state, message, outcome=result)
        refreshed = await self._actions.get(action.id)
        assert refreshed is not None
        return refreshed

    async def offer(self, base: DeploymentBase) -> None:
        """The server offers (again) a deployment: start, resume, or repeat its outcome."""
        action = await self._actions.get(base.id)
        if action is None:
            found = pick_artefact(base.deployment)
            await self._actions.put(
                base.id,
                "deployment",
                ActionState.DOWNLOADING,
                artefact=found[0].filename if found else None,
                version=found[1] if found else None,
            )
            action = await self._actions.get(base.id)
            assert action is not None
            self._events.publish(
                "fleet:action",
                {"action": base.id, "state": str(action.state), "message": "Offered"},
            )
        if action.state in FINAL:
            if action.reported:
                # The server did not take the final feedback in: say it again.
                await self._actions.update(action.id, reported=0)
                await self.settle()
            return
        if action.state in (ActionState.INSTALLING, ActionState.INSTALLED):
            return  # the install or the boot decides; `settle` reports it
        if action.state == ActionState.AWAITING_CONFIRMATION:
            return
        if self.busy:
            return
        self._worker_action = base.id
        self._worker = asyncio.create_task(self._work(base, action), name="homei-fleet-deploy")

    async def _work(self, base: DeploymentBase, action: FleetAction) -> None:
        try:
            await self._deploy(base, action)
        except DdiError as err:
            _LOGGER.warning("Fleet action %s paused: %s", base.id, err)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            _LOGGER.exception("Fleet action %s failed", base.id)
            await self._fail(base.id, f"{type(err).__name__}: {err}")
        finally:
            self._download = None

    async def _fail(self, action_id: str, reason: str) -> None:
        await self._state(action_id, ActionState.FAILED, reason, outcome="failure")
        with contextlib.suppress(DdiError):
            await self.settle()

    def _installs_now(self, deployment: Deployment) -> bool:
        if deployment.update == "forced":
            return True
        if deployment.update == "skip":
            return False
        if self._settings().apply == "maintenance_window":
            return deployment.maintenance_window == "available"
        return deployment.maintenance_window != "unavailable"

    async def _deploy(self, base: DeploymentBase, action: FleetAction) -> None:
        found = pick_artefact(base.deployment)
        if found is None:
            await self._fail(base.id, "No RAUC bundle (*.raucb) among the deployment's artefacts")
            return
        artefact, version = found
        if base.deployment.download == "skip" and action.state != ActionState.DOWNLOADED:
            return
        target = self._updates.bundles.directory / safe_name(f"fleet-{base.id}-{artefact.filename}")
        if action.state != ActionState.DOWNLOADED or not await asyncio.to_thread(target.is_file):
            await self._state(base.id, ActionState.DOWNLOADING, f"Downloading {artefact.filename}")
            path = await self._fetch(base.id, artefact, target)
            if path is None:
                return
            await self._state(
                base.id, ActionState.DOWNLOADED, f"Downloaded {artefact.filename}", bundle=str(path)
            )
        if not self._installs_now(base.deployment):
            await self._feedback(
                base.id,
                "downloaded",
                "none",
                [f"Downloaded {artefact.filename}; waiting for the maintenance window"],
            )
            return
        await self._install(base.id, target, version)

    async def _fetch(self, action_id: str, artefact: Artifact, target: Path) -> Path | None:
        assert self._ddi is not None and artefact.url is not None
        download = Download(
            await self._ddi.session(), artefact.url, target, artefact.size, artefact.hashes
        )
        self._download = download
        await self._feedback(
            action_id, "proceeding", "none", [f"Downloading {artefact.filename}"], (0, 100)
        )

        async def progress(done: int, total: int) -> None:
            percent = done * 100 // total if total else 100
            with contextlib.suppress(DdiError):
                await self._feedback(
                    action_id,
                    "proceeding",
                    "none",
                    [f"Downloaded {done} of {total} bytes"],
                    (percent, 100),
                )

        try:
            return await download.run(progress)
        except ArtefactRejected as err:
            await self._fail(action_id, f"Artefact rejected: {err}")
        except DownloadFailed as err:
            # Kept in `downloading`: the next offer resumes where this one stopped.
            await self._state(action_id, ActionState.DOWNLOADING, f"Download interrupted: {err}")
        return None

    async def _install(self, action_id: str, path: Path, version: str) -> None:
        try:
            record = await self._updates.install(str(path), created_by="fleet")
        except HomeiError as err:
            await self._fail(action_id, f"The install could not start: {err.message}")
            return
        await self._state(
            action_id, ActionState.INSTALLING, f"Installing {version}", task_id=record.id
        )
        await self._feedback(action_id, "proceeding", "none", [f"Installing {path.name}"], (0, 100))
        waiter = asyncio.ensure_future(self._tasks.wait(record.id))
        sent = 0
        while not waiter.done():
            await asyncio.wait({waiter}, timeout=2.0)
            current = await self._tasks.get(record.id, with_logs=False)
            if current.progress != sent and not waiter.done():
                sent = current.progress
                with contextlib.suppress(DdiError):
                    await self._feedback(
                        action_id, "proceeding", "none", [current.message], (sent, 100)
                    )
        final = waiter.result()
        await asyncio.to_thread(path.unlink, missing_ok=True)
        if final.status != TaskStatus.COMPLETED:
            await self._fail(action_id, final.error or f"The install ended {final.status}")
            return
        slot = (final.result or {}).get("slot")
        message = f"Installed into {slot}; the boot health gate decides after the reboot"
        await self._state(action_id, ActionState.INSTALLED, message)
        with contextlib.suppress(DdiError):
            await self._feedback(action_id, "proceeding", "none", [message], (100, 100))
        if self._settings().reboot_after_install:
            await self._reboot()

    async def cancel(self, cancel_id: str, stop_id: str) -> None:
        """The server asks to stop an action: done before the install, refused after."""
        action = await self._actions.get(stop_id)
        if action is not None and action.state in (ActionState.INSTALLING, ActionState.INSTALLED):
            await self._feedback(
                cancel_id,
                "rejected",
                "none",
                ["The install has started; it cannot be cancelled"],
                kind="cancelAction",
            )
            return
        if self._worker_action == stop_id:
            download = self._download
            await self.stop()
            if download is not None:
                await download.discard()
        if action is not None and action.state not in FINAL:
            await self._state(
                stop_id,
                ActionState.CANCELED,
                "Cancelled by the server",
                outcome="cancelled",
                reported=1,
            )
        await self._feedback(
            cancel_id, "closed", "success", ["Cancelled before the install"], kind="cancelAction"
        )
