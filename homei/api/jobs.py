"""`/api/v1/jobs` (seed 004): create, list, get and cancel jobs; `/ws/jobs/{id}` follows one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Annotated, Any

import msgspec
from aiohttp import web

from homei.api.middleware import identity_of
from homei.api.routing import endpoint
from homei.api.websockets import WebSocketHub
from homei.core.auth import Permission
from homei.core.clock import now_iso
from homei.core.event_payloads import OutputChunk
from homei.core.event_types import EventMessage, EventName
from homei.core.events import EventBus, SubscriptionClosed
from homei.jobs.job_records import Execution, JobStatus
from homei.jobs.jobs import Jobs, JobView, NewJob

_LOGGER = logging.getLogger(__name__)

JOB = "{job_id:[0-9a-f-]+}"
JOB_PARAM = {"type": "string", "pattern": "^[0-9a-f-]+$"}
# A watcher receives every event of a job; a chatty job across many systems needs room.
WATCH_QUEUE = 4096


class ExecutionOut(msgspec.Struct):
    id: str
    job_id: str
    system_id: str
    system_name: str
    status: str
    due_at: str
    started_at: str | None
    completed_at: str | None
    exit_code: int | None
    stdout: str
    stderr: str
    truncated: bool
    error_message: str | None
    duration_seconds: float | None


class JobOut(msgspec.Struct):
    id: str
    name: str
    command: str
    system_ids: list[str]
    status: str
    created_by: str
    created_at: str
    scheduled_at: str | None
    cron: str | None
    next_run_at: str | None
    timeout_seconds: float
    concurrency: int
    env: dict[str, str]
    on_missed: str
    executions: list[ExecutionOut]


class JobList(msgspec.Struct):
    jobs: list[JobOut]
    total: int
    limit: int
    offset: int


class JobQuery(msgspec.Struct):
    status: JobStatus | None = None
    created_by: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 50
    offset: Annotated[int, msgspec.Meta(ge=0, le=2**31)] = 0


class Cancelled(msgspec.Struct):
    message: str
    status: str


def _execution(e: Execution) -> ExecutionOut:
    return ExecutionOut(
        e.id, e.job_id, e.system_id, e.system_name, e.status, e.due_at, e.started_at,
        e.completed_at, e.exit_code, e.stdout, e.stderr, e.truncated, e.error_message,
        e.duration_seconds,
    )  # fmt: skip


def job_out(view: JobView) -> JobOut:
    """The wire shape of a job and its executions."""
    j = view.job
    return JobOut(
        j.id, j.name, j.command, j.system_ids, j.status, j.created_by, j.created_at,
        j.schedule_at, j.cron, j.next_run_at, j.timeout_seconds, j.concurrency, j.env,
        j.on_missed, [_execution(e) for e in view.executions],
    )  # fmt: skip


class JobsApi:
    """Commands run on systems, now, later or repeatedly."""

    def __init__(self, jobs: Jobs, events: EventBus, hub: WebSocketHub, heartbeat: float) -> None:
        self._jobs = jobs
        self._events = events
        self._hub = hub
        self._heartbeat = heartbeat

    @endpoint("GET", "/api/v1/jobs", summary="List jobs", tag="jobs",
              permission=Permission.READ, query=JobQuery, response=JobList)  # fmt: skip
    async def list(self, request: web.Request, query: JobQuery) -> JobList:
        """Jobs newest first, filtered by `status` and `created_by`, each with the executions
        of its latest run."""
        views, total = await self._jobs.page(
            query.status, query.created_by, query.limit, query.offset
        )
        return JobList([job_out(v) for v in views], total, query.limit, query.offset)

    @endpoint("POST", "/api/v1/jobs", summary="Create a job", tag="jobs",
              permission=Permission.CONTROL, body=NewJob, response=JobOut, status=201,
              errors=(403,))  # fmt: skip
    async def create(self, request: web.Request, body: NewJob) -> JobOut:
        """Runs `command` on each of `system_ids` now, at `schedule_at`, or at each time of
        `cron` (UTC), at most `concurrency` systems at once, each for at most
        `timeout_seconds`, with `env` added. An operator may use only the systems an admin
        has allowed operators; `local` (the device itself) is for admins only (403)."""
        return job_out(await self._jobs.create(body, identity_of(request)))

    @endpoint("GET", f"/api/v1/jobs/{JOB}", summary="Get a job", tag="jobs",
              permission=Permission.READ, response=JobOut,
              path_params={"job_id": JOB_PARAM})  # fmt: skip
    async def get(self, request: web.Request) -> JobOut:
        """One job with every execution (newest run first): status, times, exit code,
        output (kept up to a limit per stream, `truncated` beyond) and error."""
        return job_out(await self._jobs.get(request.match_info["job_id"]))

    @endpoint("POST", f"/api/v1/jobs/{JOB}/cancel", summary="Cancel a job", tag="jobs",
              permission=Permission.CONTROL, response=Cancelled, errors=(409,),
              path_params={"job_id": JOB_PARAM})  # fmt: skip
    async def cancel(self, request: web.Request) -> Cancelled:
        """Stops the job's running commands, cancels its pending executions and ends its
        schedule; 409 when it has nothing left to do."""
        job = await self._jobs.cancel(request.match_info["job_id"])
        return Cancelled("Job cancelled successfully", job.status)

    @endpoint("GET", f"/ws/jobs/{JOB}", summary="Follow a job (WebSocket)", tag="jobs",
              permission=Permission.READ, in_schema=False, token_in_query=True,
              websocket=EventMessage, path_params={"job_id": JOB_PARAM})  # fmt: skip
    async def watch(self, request: web.Request) -> web.WebSocketResponse:
        """The job's `job:execution` and `job:output` events: first its executions as they
        are and all their output so far, then what comes, until `job:completed` of a job
        with no next time (or `job:cancelled`)."""
        job_id = request.match_info["job_id"]
        subscription = self._events.subscribe(["job:*"], queue_size=WATCH_QUEUE)
        try:
            sent = {(c.execution_id, c.stream): c for c in self._jobs.live_output(job_id)}
            view = await self._jobs.get(job_id)  # 404 before the socket opens
            ws = web.WebSocketResponse(heartbeat=self._heartbeat, max_msg_size=64 * 1024)
            await ws.prepare(request)
            self._hub.add(ws)
            try:
                await self._send_state(ws, view, sent)
                if view.job.status in _FINAL and view.job.next_run_at is None:
                    await self._send(ws, EventName.JOB_COMPLETED, {"job_id": job_id,
                                     "status": view.job.status})  # fmt: skip
                else:
                    await _until_either(
                        self._follow(ws, job_id, subscription, sent), _read_until_closed(ws)
                    )
                await ws.close()
            finally:
                self._hub.discard(ws)
            return ws
        finally:
            self._events.unsubscribe(subscription)

    async def _send_state(
        self, ws: web.WebSocketResponse, view: JobView, live: dict[tuple[str, str], OutputChunk]
    ) -> None:
        chunks = []
        for e in view.executions:
            await self._send(ws, EventName.JOB_EXECUTION, {
                "job_id": e.job_id, "execution_id": e.id, "system_id": e.system_id,
                "status": e.status, "exit_code": e.exit_code, "error_message": e.error_message,
            })  # fmt: skip
            for stream, stored in (("stdout", e.stdout), ("stderr", e.stderr)):
                known = live.get((e.id, stream))
                # Both are prefixes of the same output: the longer one is the newer.
                text = known.text if known and len(known.text) > len(stored) else stored
                live[(e.id, stream)] = OutputChunk(e.id, e.system_id, stream, 0, text)
                if text:
                    chunks.append(live[(e.id, stream)])
        if chunks:
            data = {"job_id": view.job.id, "chunks": [msgspec.to_builtins(c) for c in chunks]}
            await self._send(ws, EventName.JOB_OUTPUT, data)

    async def _follow(
        self,
        ws: web.WebSocketResponse,
        job_id: str,
        subscription: Any,
        sent: dict[tuple[str, str], OutputChunk],
    ) -> None:
        with contextlib.suppress(SubscriptionClosed, ConnectionResetError):
            while not ws.closed:
                event = await subscription.get()
                if event.data.get("job_id") != job_id:
                    continue
                data = event.data
                if event.type == EventName.JOB_OUTPUT:
                    chunks = _unseen(data["chunks"], sent)
                    if not chunks:
                        continue
                    data = {"job_id": job_id, "chunks": chunks}
                await self._send(ws, event.type, data)
                if event.type == EventName.JOB_CANCELLED:
                    return
                if event.type == EventName.JOB_COMPLETED:
                    job = (await self._jobs.get(job_id)).job
                    if job.next_run_at is None:
                        return

    @staticmethod
    async def _send(ws: web.WebSocketResponse, kind: str, data: dict[str, Any]) -> None:
        await ws.send_str(
            msgspec.json.encode(
                {"type": kind, "data": data, "timestamp": now_iso(), "seq": 0}
            ).decode()
        )


async def _read_until_closed(ws: web.WebSocketResponse) -> None:
    """Read what the client sends (its pongs and its close) until it goes."""
    async for _ in ws:
        pass


async def _until_either(*work: Coroutine[Any, Any, None]) -> None:
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


_FINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.MISSED})


def _unseen(
    chunks: list[dict[str, Any]], sent: dict[tuple[str, str], OutputChunk]
) -> list[dict[str, Any]]:
    """The parts of `chunks` a watcher has not had yet."""
    fresh = []
    for chunk in chunks:
        key = (chunk["execution_id"], chunk["stream"])
        seen = sent.get(key)
        upto = len(seen.text) + seen.offset if seen else 0
        end = chunk["offset"] + len(chunk["text"])
        if end <= upto:
            continue
        text = chunk["text"][max(0, upto - chunk["offset"]) :]
        start = end - len(text)
        sent[key] = OutputChunk(key[0], chunk["system_id"], key[1], end, "")
        fresh.append({**chunk, "offset": start, "text": text})
    return fresh
