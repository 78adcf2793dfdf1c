"""Running one due time of a job: its executions, at most `concurrency` at once, each under
its timeout, each stoppable, each ending written once with its output."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from homei.core.clock import monotonic, now_iso
from homei.core.event_types import EventName
from homei.core.events import EventBus
from homei.jobs.execution import ExecutionError, Executor, Outcome, Stream
from homei.jobs.job_records import Ending, Execution, ExecutionStatus, Job, JobStatus
from homei.jobs.job_store import JobStore
from homei.jobs.output import OutputHub

_LOGGER = logging.getLogger(__name__)

ExecutorFor = Callable[[str], Executor]


class _Run:
    """A job's run in flight: its execution tasks, and why they were stopped, if they were."""

    def __init__(self) -> None:
        self.tasks: list[tuple[str, asyncio.Task[ExecutionStatus]]] = []  # (system id, task)
        self.stop_reason: ExecutionStatus | None = None
        self.done = asyncio.Event()


class JobRunner:
    """Runs jobs' executions through the executor of each system."""

    def __init__(
        self, store: JobStore, executor_for: ExecutorFor, output: OutputHub, events: EventBus
    ) -> None:
        self._store = store
        self._executor_for = executor_for
        self._output = output
        self._events = events
        self._runs: dict[str, _Run] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def running_count(self) -> int:
        """How many jobs run now."""
        return len(self._runs)

    def is_running(self, job_id: str) -> bool:
        """True while a run of the job is in flight."""
        return job_id in self._runs

    def start(self, job: Job, due_at: str, executions: Sequence[Execution]) -> None:
        """Run `executions` (pending, of `due_at`) in the background."""
        if job.id in self._runs:
            _LOGGER.warning("Job %s is still running; its run due %s is skipped", job.id, due_at)
            return
        run = _Run()
        self._runs[job.id] = run
        task = asyncio.create_task(self._run(job, due_at, executions, run), name=f"job-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Job, due_at: str, executions: Sequence[Execution], run: _Run) -> None:
        status = JobStatus.FAILED
        try:
            await self._store.set_job_status(job.id, JobStatus.RUNNING)
            self._events.publish(EventName.JOB_STARTED, {"job_id": job.id, "due_at": due_at})
            slots = asyncio.Semaphore(max(1, job.concurrency))
            run.tasks = [
                (e.system_id, asyncio.create_task(self._execute(job, e, slots, run)))
                for e in executions
            ]
            ended = await asyncio.gather(*(t for _, t in run.tasks), return_exceptions=True)
            status = _job_status(
                [s if isinstance(s, ExecutionStatus) else ExecutionStatus.FAILED for s in ended]
            )
            if run.stop_reason is ExecutionStatus.CANCELLED:
                status = JobStatus.CANCELLED
            else:  # a cancelled job's status was written by its cancel
                await self._store.set_job_status(job.id, status)
        finally:
            del self._runs[job.id]
            run.done.set()
            self._events.publish(EventName.JOB_COMPLETED, {"job_id": job.id, "status": status})

    async def _execute(
        self, job: Job, execution: Execution, slots: asyncio.Semaphore, run: _Run
    ) -> ExecutionStatus:
        try:
            async with slots:
                return await self._execute_now(job, execution, run)
        except asyncio.CancelledError:
            # Stopped before its turn: the job's cancel (or Homei's stop) marks it.
            return run.stop_reason or ExecutionStatus.CANCELLED

    async def _execute_now(self, job: Job, execution: Execution, run: _Run) -> ExecutionStatus:
        clock = monotonic()
        capture = self._output.open(job.id, execution.id, execution.system_id)

        async def sink(stream: Stream, text: str) -> None:
            capture.add(stream, text)

        outcome: Outcome | None = None
        error: str | None = None
        status = ExecutionStatus.FAILED
        try:
            await self._store.started(execution.id, now_iso())
            self._changed(job.id, execution, ExecutionStatus.RUNNING)
            executor = self._executor_for(execution.system_id)
            async with asyncio.timeout(job.timeout_seconds):
                outcome = await executor.run(
                    execution.system_id, job.command, env=job.env, output=sink
                )
            status, error = _judge(outcome)
        except TimeoutError:
            status, error = ExecutionStatus.TIMEOUT, f"timed out after {job.timeout_seconds:g}s"
        except ExecutionError as err:
            error = f"{err.code}: {err}"
        except asyncio.CancelledError:
            status = run.stop_reason or ExecutionStatus.CANCELLED
            error = "cancelled" if status is ExecutionStatus.CANCELLED else "Homei stopped"
        except Exception as err:  # an executor's bug must not leave the execution running
            _LOGGER.exception("Execution %s failed", execution.id)
            error = f"internal error: {err}"
        self._output.close(capture)
        ending = Ending(
            status,
            now_iso(),
            outcome.exit_code if outcome else None,
            capture.text("stdout"),
            capture.text("stderr"),
            capture.is_truncated,
            error,
            round(monotonic() - clock, 3),
        )
        # Written even while being cancelled: an execution never stays `running`.
        await asyncio.shield(self._store.finish(execution.id, ending))
        self._changed(job.id, execution, status, ending.exit_code, error)
        return status

    def _changed(
        self,
        job_id: str,
        execution: Execution,
        status: ExecutionStatus,
        exit_code: int | None = None,
        error: str | None = None,
    ) -> None:
        self._events.publish(
            EventName.JOB_EXECUTION,
            {
                "job_id": job_id,
                "execution_id": execution.id,
                "system_id": execution.system_id,
                "status": status,
                "exit_code": exit_code,
                "error_message": error,
            },
        )

    async def stop_job(self, job_id: str, reason: ExecutionStatus) -> None:
        """Stop a job's run: each running command is stopped through its executor."""
        run = self._runs.get(job_id)
        if run is None:
            return
        run.stop_reason = reason
        for _, task in run.tasks:
            task.cancel()
        await run.done.wait()

    async def shutdown(self) -> None:
        """Stop every run; their executions end as failed, Homei having stopped."""
        for job_id in list(self._runs):
            await self.stop_job(job_id, ExecutionStatus.FAILED)
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _judge(outcome: Outcome) -> tuple[ExecutionStatus, str | None]:
    if outcome.error:
        return ExecutionStatus.FAILED, outcome.error
    if outcome.exit_code == 0:
        return ExecutionStatus.COMPLETED, None
    if outcome.exit_code is None:
        return ExecutionStatus.FAILED, f"ended by signal {outcome.signal or 'unknown'}"
    return ExecutionStatus.FAILED, f"exited with {outcome.exit_code}"


def _job_status(statuses: Sequence[ExecutionStatus]) -> JobStatus:
    if all(s is ExecutionStatus.COMPLETED for s in statuses):
        return JobStatus.COMPLETED
    if any(s is ExecutionStatus.CANCELLED for s in statuses):
        return JobStatus.CANCELLED
    return JobStatus.FAILED
