"""`/api/v1/update/*`: OS updates through RAUC."""

from __future__ import annotations

from aiohttp import web

import homei
from homei.api.middleware import identity_of
from homei.api.routing import endpoint
from homei.api.update_models import (
    BUNDLE_NAME_PARAM,
    BundleList,
    BundleOut,
    GateOut,
    HistoryList,
    InstallRequest,
    InstallStarted,
    MarkRequest,
    MarkResult,
    ProgressOut,
    UpdateStatusOut,
    UploadQuery,
    bundle_out,
    history_out,
    slot_out,
)
from homei.core.auth import Permission
from homei.update.gate import HealthGate
from homei.update.manager import UpdateManager


class UpdateApi:
    """Status, bundle intake, installs and slot marks."""

    def __init__(self, updates: UpdateManager, gate: HealthGate) -> None:
        self._updates = updates
        self._gate = gate

    @endpoint(
        "GET",
        "/api/v1/update/gate",
        summary="Boot health gate",
        tag="update",
        permission=None,
        group="health",
        response=GateOut,
    )
    async def gate(self, request: web.Request) -> GateOut:
        """The boot health gate's verdict on this boot. Open like `/health`: the oneshot
        ordered before `boot-complete.target` (`homei update wait-gate`) waits on it."""
        boot_slot = self._updates.rauc.boot_slot if self._updates.is_available else None
        return GateOut(self._gate.state, boot_slot)

    @endpoint(
        "GET",
        "/api/v1/update/status",
        summary="Update status",
        tag="update",
        permission=Permission.READ,
        group="updates",
        response=UpdateStatusOut,
        errors=(503,),
    )
    async def status(self, request: web.Request) -> UpdateStatusOut:
        """Compatible, booted and primary slot, every slot, RAUC's operation and progress, and
        Homei's update history. 503 `UPDATE_ERROR` while RAUC is unreachable."""
        status = await self._updates.status()
        progress = status.progress
        return UpdateStatusOut(
            status.compatible,
            status.variant,
            status.booted,
            status.boot_slot,
            status.primary,
            status.operation,
            ProgressOut(progress.percentage, progress.message, progress.depth),
            status.last_error,
            homei.__version__,
            [slot_out(s) for s in status.slots],
            [history_out(h) for h in status.history],
        )

    @endpoint(
        "GET",
        "/api/v1/update/history",
        summary="Update history",
        tag="update",
        permission=Permission.READ,
        group="updates",
        response=HistoryList,
    )
    async def history(self, request: web.Request) -> HistoryList:
        """Every install: bundle, versions, slots, result and why."""
        return HistoryList([history_out(h) for h in await self._updates.history.list()])

    @endpoint(
        "GET",
        "/api/v1/update/bundles",
        summary="Uploaded bundles",
        tag="update",
        permission=Permission.READ,
        group="updates",
        response=BundleList,
    )
    async def list_bundles(self, request: web.Request) -> BundleList:
        """The bundles in the updates directory, newest first."""
        bundles = await self._updates.bundles.list()
        return BundleList([bundle_out(b) for b in bundles], str(self._updates.bundles.directory))

    @endpoint(
        "POST",
        "/api/v1/update/bundles",
        summary="Upload a bundle",
        tag="update",
        permission=Permission.ADMIN,
        group="updates",
        query=UploadQuery,
        upload="application/octet-stream",
        response=BundleOut,
        status=201,
        errors=(507,),
    )
    async def upload_bundle(self, request: web.Request, query: UploadQuery) -> BundleOut:
        """Streams the request body to the data partition (never held in memory), under the
        size limit and after a free-space check; answers with its SHA-256."""
        bundle = await self._updates.bundles.receive(
            request.content.iter_chunked(1024 * 1024), query.filename, request.content_length
        )
        return bundle_out(bundle)

    @endpoint(
        "DELETE",
        "/api/v1/update/bundles/{name}",
        summary="Delete a bundle",
        tag="update",
        permission=Permission.ADMIN,
        group="updates",
        response=BundleList,
        path_params={"name": BUNDLE_NAME_PARAM},
    )
    async def delete_bundle(self, request: web.Request) -> BundleList:
        """Removes one uploaded bundle; answers with those left."""
        await self._updates.bundles.delete(request.match_info["name"])
        return await self.list_bundles(request)

    @endpoint(
        "POST",
        "/api/v1/update/install",
        summary="Install a bundle",
        tag="update",
        permission=Permission.ADMIN,
        group="updates",
        body=InstallRequest,
        response=InstallStarted,
        status=202,
        errors=(404, 409, 503),
    )
    async def install(self, request: web.Request, body: InstallRequest) -> InstallStarted:
        """Starts a task that installs the bundle into the other slot; progress comes as
        `task:progress` and `update:progress` events. 409 while another install runs."""
        record = await self._updates.install(
            body.bundle_path, created_by=identity_of(request).username
        )
        return InstallStarted(
            "installing", "Update installation started", record.id, record.params["bundle"]
        )

    async def _mark(self, state: str, body: MarkRequest) -> MarkResult:
        slot, message = await self._updates.mark(state, body.slot)
        return MarkResult("success", message, slot, state)

    @endpoint(
        "POST",
        "/api/v1/update/mark-good",
        summary="Mark a slot good",
        tag="update",
        permission=Permission.ADMIN,
        group="updates",
        body=MarkRequest,
        body_optional=True,
        response=MarkResult,
        errors=(503,),
    )
    async def mark_good(self, request: web.Request, body: MarkRequest) -> MarkResult:
        """RAUC's `Mark good` for `booted` (default), `other` or a slot name."""
        return await self._mark("good", body)

    @endpoint(
        "POST",
        "/api/v1/update/mark-bad",
        summary="Mark a slot bad",
        tag="update",
        permission=Permission.ADMIN,
        group="updates",
        body=MarkRequest,
        body_optional=True,
        response=MarkResult,
        errors=(503,),
    )
    async def mark_bad(self, request: web.Request, body: MarkRequest) -> MarkResult:
        """RAUC's `Mark bad`: the bootloader will not choose that slot."""
        return await self._mark("bad", body)

    @endpoint(
        "POST",
        "/api/v1/update/mark-active",
        summary="Mark a slot active",
        tag="update",
        permission=Permission.ADMIN,
        group="updates",
        body=MarkRequest,
        body_optional=True,
        response=MarkResult,
        errors=(503,),
    )
    async def mark_active(self, request: web.Request, body: MarkRequest) -> MarkResult:
        """RAUC's `Mark active`: boot that slot next."""
        return await self._mark("active", body)
