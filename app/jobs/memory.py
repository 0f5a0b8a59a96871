"""The default job queue: an asyncio worker pool inside the API process.

Bounded concurrency (JOB_CONCURRENCY workers) and a bounded backlog (JOB_QUEUE_LIMIT → 429).
Jobs live in memory only: a restart forgets every job, queued or finished, and the 404 for
an unknown job says so. Set REDIS_URL for jobs that survive restarts.

`stop()` drains: running jobs get JOB_DRAIN_S to finish; the rest are cancelled, marked
failed (`interrupted`), and waited for until their threads let go (CANCEL_GRACE_S), so the
caller can close the store without a thread still writing to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from app.errors import OverloadedError
from app.jobs.base import (
    IdempotencyKey,
    Job,
    JobContext,
    JobError,
    JobHandlers,
    JobProgress,
    JobQueue,
    Outcome,
    check_reuse,
    interrupted,
    new_job_id,
    run_kind,
    technical,
    unknown_job,
    utcnow,
)
from app.telemetry import trace_carrier

log = logging.getLogger(__name__)

FORGETS = "The in-process job queue forgets jobs when the server restarts; set REDIS_URL to keep them."
# After the drain, how long a cancelled job's thread gets to reach its next step and stop.
CANCEL_GRACE_S = 10.0


class InProcessJobQueue(JobQueue):
    durable = False

    def __init__(
        self,
        handlers: JobHandlers,
        *,
        concurrency: int = 1,
        queue_limit: int = 64,
        max_tries: int = 3,
        backoff_s: float = 2.0,
        ttl_s: float = 7 * 24 * 3600,
        timeout_s: float | None = None,
        drain_s: float = 30.0,
        idempotency_ttl_s: float = 24 * 3600,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"`concurrency` must be >= 1 but is {concurrency}.")
        self._handlers = handlers
        self._concurrency = concurrency
        self._queue_limit = queue_limit
        self._max_tries = max_tries
        self._backoff_s = backoff_s
        self._ttl = timedelta(seconds=ttl_s)
        self._timeout_s = timeout_s
        self._drain_s = drain_s
        self._idempotency_ttl = timedelta(seconds=idempotency_ttl_s)
        self._jobs: dict[str, Job] = {}
        # Idempotency-Key → (job id, when the key expires)
        self._keys: dict[str, tuple[str, datetime]] = {}
        self._contexts: dict[str, JobContext] = {}
        self._pending: asyncio.Queue[str] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._busy: set[asyncio.Task[None]] = set()  # workers inside a job
        self._stopping = False  # busy workers finish their job, then exit
        self._timers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._workers:
            return
        log.info("in-process job queue with %d worker(s); %s", self._concurrency, FORGETS)
        self._stopping = False
        # Made here, in the running loop (a queue is bound to the loop that first uses it).
        pending: asyncio.Queue[str] = asyncio.Queue()
        for job in self._jobs.values():
            if job.status == "queued":
                pending.put_nowait(job.id)
        self._pending = pending
        self._workers = [
            asyncio.create_task(self._work(pending), name=f"job-worker-{i}") for i in range(self._concurrency)
        ]

    async def stop(self) -> None:
        """Drain, then cancel. Queued jobs stay queued (a `start()` in this process runs them)."""
        # Idle workers and retry timers go first, so no new job starts during the drain.
        self._stopping = True
        idle = [task for task in [*self._workers, *self._timers] if task not in self._busy]
        await _cancel(idle)
        busy = list(self._busy)
        if busy and self._drain_s > 0:
            log.info("waiting up to %gs (JOB_DRAIN_S) for %d running job(s)", self._drain_s, len(busy))
            await asyncio.wait(busy, timeout=self._drain_s)
        for ctx in self._contexts.values():
            ctx.cancel()
        for job in self._jobs.values():
            if job.status == "running":
                self._update(
                    job, status="failed", error=interrupted(f"The server stopped while this job ran. {FORGETS}")
                )
        busy = [task for task in busy if not task.done()]
        if busy:
            # Their handlers were told to stop; a thread only notices at its next step.
            _, stuck = await asyncio.wait(busy, timeout=CANCEL_GRACE_S)
            if stuck:
                log.error("%d job thread(s) did not stop within %gs of being cancelled", len(stuck), CANCEL_GRACE_S)
        await _cancel(busy)
        self._workers = []
        self._busy.clear()
        self._timers.clear()
        self._pending = None

    async def find(self, idempotency_key: IdempotencyKey) -> Job | None:
        bound = self._keys.get(idempotency_key.key)
        if bound is None:
            return None
        job_id, expires = bound
        job = self._jobs.get(job_id)
        if job is None or expires <= utcnow():
            del self._keys[idempotency_key.key]
            return None
        return check_reuse(job, idempotency_key).model_copy(deep=True)

    async def submit(
        self,
        kind: str,
        params: dict[str, Any],
        idempotency_key: IdempotencyKey | None = None,
        owner: str | None = None,
    ) -> Job:
        if kind not in self._handlers:
            self._handlers.get(kind)  # raises ValueError naming the registered kinds
        if idempotency_key is not None and (existing := await self.find(idempotency_key)):
            return existing
        self._prune()
        if await self.depth() >= self._queue_limit:
            raise OverloadedError(
                f"{self._queue_limit} jobs are already queued or running (JOB_QUEUE_LIMIT); try again later.",
                retry_after=5,
            )
        now = utcnow()
        job = Job(
            id=new_job_id(),
            kind=kind,
            status="queued",
            params=params,
            idempotency_key=idempotency_key.key if idempotency_key else None,
            request_fingerprint=idempotency_key.fingerprint if idempotency_key else None,
            owner=owner,
            trace=trace_carrier(),
            created_at=now,
            updated_at=now,
        )
        self._jobs[job.id] = job
        if idempotency_key is not None:
            self._keys[idempotency_key.key] = (job.id, now + self._idempotency_ttl)
        if self._pending is not None:  # not started yet: `start()` queues it
            self._pending.put_nowait(job.id)
        return job.model_copy(deep=True)

    async def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise unknown_job(job_id, FORGETS)
        return job.model_copy(deep=True)

    async def cancel(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise unknown_job(job_id, FORGETS)
        if not job.finished:
            self._update(job, status="cancelled")
            if ctx := self._contexts.get(job_id):
                ctx.cancel()  # `_run` releases what it staged once the handler let go
            else:
                await self._handlers.abandon(job)  # queued: it never runs
        return job.model_copy(deep=True)

    async def active(self, kind: str) -> list[Job]:
        return [job.model_copy(deep=True) for job in self._jobs.values() if job.kind == kind and not job.finished]

    async def depth(self) -> int:
        return sum(1 for job in self._jobs.values() if not job.finished)

    # --- internals -----------------------------------------------------------------------

    def _update(self, job: Job, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(job, key, value)
        job.updated_at = utcnow()

    def _prune(self) -> None:
        now = utcnow()
        cutoff = now - self._ttl
        for job_id, job in list(self._jobs.items()):
            if job.finished and job.updated_at < cutoff:
                del self._jobs[job_id]
        for key, (job_id, expires) in list(self._keys.items()):
            if expires <= now or job_id not in self._jobs:
                del self._keys[key]

    async def _work(self, pending: asyncio.Queue[str]) -> None:
        me = asyncio.current_task()
        assert me is not None
        while not self._stopping:
            job_id = await pending.get()
            self._busy.add(me)
            try:
                await self._run(job_id)
            except Exception as e:  # a bug here must not kill the worker, nor leave the job running
                log.exception("job worker failed on %s", job_id)
                if (job := self._jobs.get(job_id)) is not None and job.status == "running":
                    self._update(
                        job,
                        status="failed",
                        error=JobError(
                            code="internal_error",
                            message="The job failed unexpectedly; see the details or the server log.",
                            detail=technical(e),
                        ),
                    )
            finally:
                self._busy.discard(me)
                pending.task_done()

    async def _run(self, job_id: str) -> None:
        job = self._jobs.get(job_id)
        if job is None or job.finished:
            return
        loop = asyncio.get_running_loop()

        def on_progress(progress: JobProgress) -> None:
            # Called from worker threads: hop onto the loop before touching the record.
            loop.call_soon_threadsafe(self._progress, job, progress)

        ctx = JobContext(job.id, attempt=job.attempts + 1, on_progress=on_progress)
        self._contexts[job.id] = ctx
        self._update(job, status="running", attempts=ctx.attempt, error=None)
        try:
            outcome: Outcome = await run_kind(
                self._handlers,
                job.kind,
                job.params,
                ctx,
                max_tries=self._max_tries,
                backoff_s=self._backoff_s,
                timeout_s=self._timeout_s,
                trace=job.trace,
            )
        finally:
            self._contexts.pop(job.id, None)
        if not job.finished:  # else cancelled, or marked interrupted by `stop()`, while running: keep it
            self._update(job, status=outcome.status, result=outcome.result, error=outcome.error)
        if job.status in ("failed", "cancelled"):
            await self._handlers.abandon(job)  # an in-process job never runs again once it ended
        elif outcome.retry_in is not None and not self._stopping:  # stopping: stays queued for `start()`
            timer = asyncio.create_task(self._requeue(job.id, outcome.retry_in))
            self._timers.add(timer)
            timer.add_done_callback(self._timers.discard)

    def _progress(self, job: Job, progress: JobProgress) -> None:
        if job.status == "running":
            self._update(job, progress=progress)

    async def _requeue(self, job_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        job = self._jobs.get(job_id)
        if job is not None and job.status == "queued" and self._pending is not None:
            self._pending.put_nowait(job_id)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
