"""Native services' part of the daemon: systemd over D-Bus, the units runtime, artefacts.

`build_units` makes them from the settings; `connect_units` tells the reconciler when to
compare native services again (a unit's job ended, systemd came back); `homei.app` starts
and stops them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec

from homei.core.events import EventBus
from homei.dbus.systemd_units import UnitProperties
from homei.journal.reader import Journal
from homei.services.policy import Policy
from homei.services.reconciler import NEXT_SUFFIX
from homei.services.spec import ServiceSpec
from homei.settings import Settings
from homei.units.artifacts import ArtifactStore
from homei.units.runtime import UnitsRuntime
from homei.units.systemd import Systemd
from homei.units.unit_file import instance_of

# A job of one of Homei's units ended this way: compare that service with its spec again.
RECONCILE_ON_RESULTS = frozenset({"done", "failed", "canceled", "dependency", "skipped"})
# ActiveStates of a unit whose program runs, and those it reaches when the program ended
# (`activating` is also systemd's state while it waits to restart it).
RUNNING_STATES = frozenset({"active", "reloading", "deactivating"})
ENDED_STATES = frozenset({"inactive", "failed", "activating"})


def transition(before: str, after: str) -> str | None:
    """The container event a change of ActiveState is, in Docker's words: `die` when the
    program ended, `start` when it came up; None for the steps between."""
    if before in RUNNING_STATES and after in ENDED_STATES:
        return "die"
    if after == "active" and before not in RUNNING_STATES:
        return "start"
    return None


class UnitParts(msgspec.Struct, frozen=True):
    systemd: Systemd
    runtime: UnitsRuntime
    artifacts: ArtifactStore

    async def load(self) -> None:
        """Learn which unit files are Homei's (before the first reconcile pass)."""
        await self.artifacts.prepare()
        await self.runtime.load()

    async def dial(self) -> None:
        """Dial systemd's bus, in the background: it may come later."""
        await self.systemd.start(first_attempt=0)

    async def stop(self) -> None:
        """Hang up on systemd."""
        await self.systemd.stop()


def build_units(settings: Settings, policy: Policy) -> UnitParts:
    """systemd, the units runtime and the artefact store, from the `[units]` settings."""
    artifacts = ArtifactStore(settings.artifacts_dir, settings.units.max_artifact_size)
    systemd = Systemd(settings.units.dbus_address or None)
    runtime = UnitsRuntime(
        systemd,
        policy,
        Path(settings.units.unit_dir),
        artifacts,
        tuple(Path(root) for root in settings.units.exec_roots),
        settings.units.job_timeout,
        settle=(settings.units.settle_time, settings.units.settle_timeout),
        journal=Journal(settings.units.journal_dir),
        state_root=Path(settings.units.state_dir),
    )
    return UnitParts(systemd, runtime, artifacts)


def connect_units(
    units: UnitParts,
    request: Callable[[str | None], object],
    specs: Callable[[], list[ServiceSpec]],
    events: EventBus,
) -> None:
    """Ask `request` (the reconciler's) to compare again when a unit of Homei's changes
    state (stopped behind Homei's back, say) and when systemd comes back; publish its
    program ending or starting as Docker's containers' events are (`container.die`,
    `container.start`), so the alert rules see native services too; keep artefacts that
    declared `specs` run."""

    def users_of(name: str, version: str) -> list[str]:
        return sorted(
            spec.name
            for spec in specs()
            if spec.artifact is not None
            and (spec.artifact.name, spec.artifact.version) == (name, version)
        )

    units.artifacts.users_of = users_of

    def job_ended(unit: str, result: str) -> None:
        instance = instance_of(unit)
        if instance is not None and result in RECONCILE_ON_RESULTS:
            request(instance.removesuffix(NEXT_SUFFIX))

    def systemd_back() -> None:
        request(None)

    def state_changed(before: UnitProperties, after: UnitProperties) -> None:
        instance = instance_of(after.name)
        kind = transition(before.active_state, after.active_state)
        if instance is None or kind is None:
            return
        service = instance.removesuffix(NEXT_SUFFIX)
        code = str(after.exec_main_status) if kind == "die" else None
        events.publish(
            f"container.{kind}",
            {"container_id": after.name, "name": instance, "image": None, "managed": True,
             "service": service, "exit_code": code},
        )  # fmt: skip
        request(service)

    units.systemd.job_listeners.append(job_ended)
    units.systemd.state_listeners.append(state_changed)
    units.systemd.connect_listeners.append(systemd_back)
