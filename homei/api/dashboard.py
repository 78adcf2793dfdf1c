"""`/api/v1/dashboard` (seed 004): systems, jobs and executions at a glance, and the device's
own summary."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from homei.api.middleware import identity_of
from homei.api.routing import endpoint
from homei.core.auth import Permission
from homei.jobs.dashboard import (
    Dashboard,
    Engine,
    ExecutionCounts,
    JobCounts,
    RecentExecution,
    SystemCounts,
)


class DashboardUser(msgspec.Struct):
    authenticated: bool
    username: str
    role: str


class DashboardOut(msgspec.Struct):
    user: DashboardUser
    systems: SystemCounts
    jobs: JobCounts
    executions: ExecutionCounts
    recent_executions: list[RecentExecution]
    engine: Engine
    # `services` by health, the `update` state, the `last_backup` and firing `alerts`; each
    # null when its part is not there.
    device: dict[str, Any]


class DashboardApi:
    """The figures the dashboard's first page shows."""

    def __init__(self, dashboard: Dashboard) -> None:
        self._dashboard = dashboard

    @endpoint("GET", "/api/v1/dashboard", summary="Dashboard figures", tag="jobs",
              permission=Permission.READ, response=DashboardOut)  # fmt: skip
    async def get(self, request: web.Request) -> DashboardOut:
        """Seed 004's systems by health and type, jobs and executions by status, the engine's
        slots and the latest executions; and `device`: services by health, the update state,
        the last backup and firing alerts."""
        caller = identity_of(request)
        f = await self._dashboard.figures()
        return DashboardOut(
            DashboardUser(True, caller.username, caller.role),
            f.systems, f.jobs, f.executions, f.recent_executions, f.engine, f.device,
        )  # fmt: skip
