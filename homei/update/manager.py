"""OS updates through RAUC: status, installs as tracked tasks, and marking slots."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import homei
from homei.core.errors import Conflict
from homei.core.events import EventBus
from homei.core.health import DependencyReport, HealthState
from homei.core.tasks import TaskContext, TaskManager, TaskRecord
from homei.core.work import OneAtATime, RefuseWhile, Workplace, work
from homei.dbus.bus import DBusCallError, SystemBus
from homei.dbus.rauc import InstallFailed, RaucInstaller, RaucUnavailable
from homei.dbus.rauc_status import Progress, SlotStatus
from homei.update.bundles import BundleStore
from homei.update.history import UpdateHistory, UpdateResult
from homei.update.status import UpdateError, UpdateRefused, UpdateStatus, booted_slot, other_slot

if TYPE_CHECKING:
    from dbus_fast.aio import MessageBus

_LOGGER = logging.getLogger(__name__)

TASK_TYPE = "update_install"


def _already_installing(operation: str) -> Conflict:
    return Conflict("An update is already being installed", {"operation": operation})


# One install at a time: claimed when the request is accepted, held by its task.
ONE_INSTALL = OneAtATime(
    "update-install", busy=lambda _: _already_installing("installing"), lasts="task"
)
# RAUC installing for someone else (its own CLI, say) refuses ours too; the check reads
# `rauc`, so it also answers 503 when RAUC is not there.
RAUC_IDLE = RefuseWhile(
    lambda updates: updates.rauc.operation != "idle",
    lambda updates: _already_installing(updates.rauc.operation),
)


class UpdateManager:
    """Drives RAUC over D-Bus, keeps the update history, and reports on both."""

    def __init__(
        self,
        system_bus: SystemBus,
        history: UpdateHistory,
        bundles: BundleStore,
        tasks: TaskManager,
        events: EventBus,
        *,
        install_timeout: float = 3600.0,
    ) -> None:
        self._system_bus = system_bus
        self.history = history
        self.bundles = bundles
        self._tasks = tasks
        self._events = events
        self._install_timeout = install_timeout
        self._rauc: RaucInstaller | None = None
        self._work = Workplace(tasks)
        self._progress_writes = set()
        system_bus.on_connect(self._connected)

    async def _connected(self, bus: MessageBus) -> None:
        rauc = RaucInstaller(bus)
        rauc.on_progress(self._progressed)
        await rauc.start()
        self._rauc = rauc

    async def start(self) -> None:
        """Prepare the updates directory and close out installs a stop cut off."""
        await self.bundles.prepare()
        if await self.history.interrupted():
            _LOGGER.warning("An install was cut off by a stop of Homei; RAUC's own state decides")

    @property
    def rauc(self) -> RaucInstaller:
        """The installer, when RAUC is reachable; 503 `UPDATE_ERROR` otherwise."""
        rauc = self._rauc
        if self._system_bus.bus is None:
            raise UpdateError(
                "No system bus: updates are unavailable",
                {"reason": self._system_bus.last_error or "not connected"},
            )
        if rauc is None or not rauc.is_available:
            raise UpdateError(
                "RAUC is not running: updates are unavailable",
                {"reason": "de.pengutronix.rauc is not on the system bus"},
            )
        return rauc

    @property
    def is_available(self) -> bool:
        """True while RAUC answers on the bus."""
        return (
            self._system_bus.bus is not None and self._rauc is not None and self._rauc.is_available
        )

    @property
    def workplace(self) -> Workplace:
        """The state behind this manager's work policies."""
        return self._work

    @property
    def is_installing(self) -> bool:
        """True while an install runs (or has been accepted to)."""
        return self._work.is_held(ONE_INSTALL)

    async def report(self) -> DependencyReport:
        """RAUC as a dependency in `/health`."""
        try:
            rauc = self.rauc
        except UpdateError as err:
            return DependencyReport("rauc", HealthState.UNHEALTHY, err.message, critical=False)
        return DependencyReport(
            "rauc",
            HealthState.HEALTHY,
            f"RAUC is {rauc.operation}",
            critical=False,
            details={"compatible": rauc.compatible, "bootSlot": rauc.boot_slot},
        )

    async def status(self) -> UpdateStatus:
        """Slots, the booted and primary slot, the current operation and the history."""
        rauc = self.rauc
        slots = await self._call(rauc.slot_status())
        booted = booted_slot(slots, rauc.boot_slot)
        return UpdateStatus(
            rauc.compatible,
            rauc.variant,
            booted.name if booted else None,
            rauc.boot_slot,
            await rauc.primary(),
            rauc.operation,
            rauc.progress,
            rauc.last_error,
            slots,
            await self.history.list(),
        )

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except RaucUnavailable as err:
            raise UpdateError(str(err)) from None
        except DBusCallError as err:
            raise UpdateError(
                f"RAUC refused: {err.text or err.name}", {"dbusError": err.name}
            ) from None

    async def mark(self, state: str, slot: str) -> tuple[str, str]:
        """RAUC's `Mark`: `good`, `bad` or `active` for `booted`, `other` or a slot name."""
        try:
            return await self.rauc.mark(state, slot)
        except DBusCallError as err:
            raise UpdateRefused(
                f"RAUC refused to mark {slot} {state}: {err.text or err.name}",
                {"state": state, "slot": slot},
            ) from None
        except RaucUnavailable as err:
            raise UpdateError(str(err)) from None

    async def install(self, given: str, *, created_by: str | None = None) -> TaskRecord:
        """Start installing a bundle from the updates directory; a task reports the rest."""
        path = await self.bundles.resolve(given)
        return await self._start_install(str(path), created_by)

    @work(RAUC_IDLE, ONE_INSTALL)
    async def _start_install(self, path: str, created_by: str | None) -> TaskRecord:
        rauc = self.rauc
        return await self._tasks.start(
            TASK_TYPE,
            lambda context: self._run_install(context, rauc, path),
            params={"bundle": path},
            created_by=created_by,
            message="Waiting for RAUC",
        )

    async def _run_install(
        self, context: TaskContext, rauc: RaucInstaller, path: str
    ) -> dict[str, Any]:
        self._context = context
        entry = None
        try:
            slots = await rauc.slot_status()
            booted = booted_slot(slots, rauc.boot_slot)
            entry = await self.history.begin(
                context.task_id,
                path,
                booted.bootname if booted else rauc.boot_slot,
                booted.bundle_version if booted and booted.bundle_version else homei.__version__,
            )
            await context.log(f"Installing {path}")
            self._events.publish("update:started", {"taskId": context.task_id, "bundle": path})
            compatible, version = "", ""
            try:
                try:
                    compatible, version = await rauc.info(path)
                    await self.history.update(entry, compatible=compatible, to_version=version)
                    await context.log(f"Bundle {version} for {compatible}")
                except DBusCallError as err:
                    # RAUC's Info says little ("rauc info error"); the install that follows
                    # fails with RAUC's real reason in LastError.
                    await context.log(f"Inspecting the bundle failed: {err.text or err.name}")
                await rauc.install_bundle(path, timeout=self._install_timeout)
            except (InstallFailed, DBusCallError, RaucUnavailable) as err:
                reason = err.text if isinstance(err, DBusCallError) and err.text else str(err)
                await self.history.finish(entry, UpdateResult.FAILED, reason)
                self._events.publish(
                    "update:failed", {"taskId": context.task_id, "bundle": path, "error": reason}
                )
                raise UpdateRefused(reason) from None
            slots = await rauc.slot_status()
            primary = await rauc.primary()
            target = self._bootname(slots, primary) or self._target_bootname(slots, rauc.boot_slot)
            await self.history.finish(
                entry,
                UpdateResult.INSTALLED,
                f"Installed; boots from {target} next",
                to_slot=target,
            )
            result = {
                "bundle": path,
                "version": version,
                "compatible": compatible,
                "slot": target,
                "message": "Installed; reboot to use it",
            }
            await context.progress(100, "Installed; reboot to use it")
            self._events.publish("update:completed", {"taskId": context.task_id, **result})
            return result
        finally:
            self._context = None

    @staticmethod
    def _bootname(slots: list[SlotStatus], slot_name: str | None) -> str | None:
        return next((s.bootname for s in slots if s.name == slot_name), None)

    @staticmethod
    def _target_bootname(slots: list[SlotStatus], boot_slot: str) -> str | None:
        other = other_slot(slots, booted_slot(slots, boot_slot))
        return other.bootname if other else None

    _context: TaskContext | None = None
    _progress_writes: set[asyncio.Future[None]] = set()

    def _progressed(self, progress: Progress) -> None:
        self._events.publish(
            "update:progress",
            {
                "percentage": progress.percentage,
                "message": progress.message,
                "depth": progress.depth,
            },
        )
        context = self._context
        if context is not None:
            task = asyncio.ensure_future(context.progress(progress.percentage, progress.message))
            self._progress_writes.add(task)
            task.add_done_callback(self._progress_writes.discard)
