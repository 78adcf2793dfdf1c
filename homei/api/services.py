"""`/api/v1/services`: declare, change, remove and control the device's app services."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from homei.api import service_models as m
from homei.api.middleware import identity_of
from homei.api.routing import endpoint
from homei.core.auth import Permission
from homei.services.manager import ServiceManager
from homei.services.views import ServiceViews, view

# `validate` is a route of its own, never a service's name.
NAME_REF = "{service_name:(?!validate$)[a-z0-9][a-z0-9_.-]*}"
NAME_PARAM = {
    "service_name": {"type": "string", "pattern": "^(?!validate$)[a-z0-9][a-z0-9_.-]{0,62}$"}
}


class ListQuery(msgspec.Struct):
    status: str | None = None
    category: str | None = None
    sort: Literal["name", "status", "created"] = "name"
    order: Literal["asc", "desc"] = "asc"
    page: Annotated[int, msgspec.Meta(ge=1)] = 1
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 100


class DeleteQuery(msgspec.Struct):
    removeData: bool = False
    force: bool = False


class StopQuery(msgspec.Struct):
    graceful: bool = True
    timeout: Annotated[int, msgspec.Meta(ge=0, le=3600)] | None = None


class ControlBody(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["start", "stop", "restart"]
    graceful: bool = True
    timeout: Annotated[float, msgspec.Meta(ge=0, le=3600)] | None = None


class ServicesApi:
    def __init__(self, services: ServiceManager, views: ServiceViews) -> None:
        self._services = services
        self._views = views

    async def _view(self, name: str) -> dict[str, Any]:
        declared = self._services.declared(name)
        instance = await self._views.instance(name)
        body = view(declared, instance, self._views.health(name), self._services.busy.get(name))
        return body | await self._views.native(declared, instance)

    @endpoint(
        "GET",
        "/api/v1/services",
        summary="List services",
        tag="services",
        permission=Permission.READ,
        group="services",
        query=ListQuery,
        response=m.ServiceList,
        errors=(503,),
    )
    async def list_services(self, request: web.Request, query: ListQuery) -> m.ServiceList:
        """Filter by `status` and `category`; sort by name, status or creation; paginated."""
        declared = self._services.store.all()
        instances = await self._views.instances(sorted(declared))
        rows = [
            view(row, instances[name], self._views.health(name), self._services.busy.get(name))
            | await self._views.native(row, instances[name])
            for name, row in declared.items()
        ]
        rows = [r for r in rows if query.status in (None, r["status"])]
        rows = [r for r in rows if query.category in (None, r["category"])]
        key = {"name": "name", "status": "status", "created": "created_at"}[query.sort]
        rows.sort(key=lambda r: (r[key] or "", r["name"]), reverse=query.order == "desc")
        start = (query.page - 1) * query.limit
        page = rows[start : start + query.limit]
        return m.ServiceList(
            [msgspec.convert(r, m.ServiceOut) for r in page], len(rows), query.page, query.limit
        )

    @endpoint(
        "POST",
        "/api/v1/services",
        summary="Install a service",
        tag="services",
        permission=Permission.ADMIN,
        group="services",
        body=m.ServiceRequest,
        response=m.ServiceAccepted,
        status=202,
        errors=(400, 409, 503),
    )
    async def install(self, request: web.Request, body: m.ServiceRequest) -> m.ServiceAccepted:
        """Accepts seed 001's flat body or seed 000's nested `config` body. Checks it at once
        (400/409 naming the problem), then installs it as a task: pull when a registry has the
        image, create networks, volumes and the container, start it after its dependencies."""
        spec, task = await self._services.install(
            msgspec.to_builtins(body), identity_of(request).username
        )
        return m.ServiceAccepted(
            spec.name, spec.name, "installing", "Service installation started", task.id
        )

    @endpoint(
        "POST",
        "/api/v1/services/validate",
        summary="Validate a service",
        tag="services",
        permission=Permission.READ,
        group="services",
        body=m.ServiceRequest,
        response=m.Validation,
        errors=(503,),
    )
    async def validate(self, request: web.Request, body: m.ServiceRequest) -> m.Validation:
        """Every check an install would make, without installing."""
        return m.Validation(**await self._services.validate(msgspec.to_builtins(body)))

    @endpoint(
        "GET",
        f"/api/v1/services/{NAME_REF}",
        summary="Get a service",
        tag="services",
        permission=Permission.READ,
        group="services",
        response=m.ServiceOut,
        path_params=NAME_PARAM,
        errors=(503,),
    )
    async def get(self, request: web.Request) -> m.ServiceOut:
        return msgspec.convert(await self._view(request.match_info["service_name"]), m.ServiceOut)

    @endpoint(
        "PUT",
        f"/api/v1/services/{NAME_REF}",
        summary="Update a service",
        tag="services",
        permission=Permission.ADMIN,
        group="services",
        body=m.ServiceRequest,
        response=m.ServiceAccepted,
        status=202,
        path_params=NAME_PARAM,
        errors=(400, 409, 503),
    )
    async def update(self, request: web.Request, body: m.ServiceRequest) -> m.ServiceAccepted:
        """The fields given replace the declared ones. A new container is prepared first and
        swapped in; if the pull, the create or the start fails, the old one keeps running."""
        name = request.match_info["service_name"]
        _spec, task = await self._services.update(
            name, msgspec.to_builtins(body), identity_of(request).username
        )
        return m.ServiceAccepted(name, name, "updating", "Service update started", task.id)

    @endpoint(
        "DELETE",
        f"/api/v1/services/{NAME_REF}",
        summary="Uninstall a service",
        tag="services",
        permission=Permission.ADMIN,
        group="services",
        query=DeleteQuery,
        response=m.ServiceResult,
        path_params=NAME_PARAM,
        errors=(409, 503),
    )
    async def delete(self, request: web.Request, query: DeleteQuery) -> m.ServiceResult:
        """409 DEPENDENCY_ERROR while others depend on it, unless `force`; `removeData` also
        removes its named volumes and its folder."""
        name = request.match_info["service_name"]
        await self._services.delete(name, force=query.force, remove_data=query.removeData)
        return m.ServiceResult(name, "deleted", "Service deleted successfully")

    @endpoint(
        "POST",
        f"/api/v1/services/{NAME_REF}/start",
        summary="Start a service",
        tag="services",
        permission=Permission.CONTROL,
        group="services",
        response=m.ServiceResult,
        path_params=NAME_PARAM,
        errors=(503,),
    )
    async def start(self, request: web.Request) -> m.ServiceResult:
        """Starts what it depends on first."""
        name = request.match_info["service_name"]
        started = await self._services.control.start(name)
        return m.ServiceResult(name, "started", "Service started successfully", started)

    @endpoint(
        "POST",
        f"/api/v1/services/{NAME_REF}/stop",
        summary="Stop a service",
        tag="services",
        permission=Permission.CONTROL,
        group="services",
        query=StopQuery,
        response=m.ServiceResult,
        path_params=NAME_PARAM,
        errors=(503,),
    )
    async def stop(self, request: web.Request, query: StopQuery) -> m.ServiceResult:
        """Stops the services that depend on it first; `graceful=false` kills."""
        name = request.match_info["service_name"]
        stopped = await self._services.control.stop(
            name, graceful=query.graceful, timeout=query.timeout
        )
        return m.ServiceResult(name, "stopped", "Service stopped successfully", stopped)

    @endpoint(
        "POST",
        f"/api/v1/services/{NAME_REF}/restart",
        summary="Restart a service",
        tag="services",
        permission=Permission.CONTROL,
        group="services",
        response=m.ServiceResult,
        path_params=NAME_PARAM,
        errors=(503,),
    )
    async def restart(self, request: web.Request) -> m.ServiceResult:
        name = request.match_info["service_name"]
        await self._services.control.restart(name)
        return m.ServiceResult(name, "restarted", "Service restarted successfully")

    @endpoint(
        "POST",
        f"/api/v1/services/{NAME_REF}/control",
        summary="Control a service",
        tag="services",
        permission=Permission.CONTROL,
        group="services",
        body=ControlBody,
        response=m.ServiceResult,
        path_params=NAME_PARAM,
        errors=(503,),
    )
    async def control(self, request: web.Request, body: ControlBody) -> m.ServiceResult:
        """`{"action": "start" | "stop" | "restart"}`."""
        if body.action == "start":
            return await self.start(request)
        if body.action == "stop":
            timeout = None if body.timeout is None else round(body.timeout)
            return await self.stop(request, StopQuery(body.graceful, timeout))
        return await self.restart(request)
