"""The Redis job worker: `python -m app.jobs.worker` (needs REDIS_URL).

Runs the same handlers as the in-process queue, JOB_CONCURRENCY at a time. Transient
failures (retryable provider errors) are retried with exponential backoff up to
JOB_MAX_TRIES; a job whose worker died is re-delivered by arq. Cancellation: the API marks
the record `cancelled`; the worker notices within half a second and the handler stops at
its next step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from arq import Retry, Worker
from arq.connections import RedisSettings
from arq.worker import func

from app.config import Settings
from app.jobs.arq_queue import RUN_JOB, RedisJobStore
from app.jobs.base import (
    TERMINAL,
    Job,
    JobContext,
    JobHandlers,
    JobProgress,
    run_attempt,
)

log = logging.getLogger(__name__)

CANCEL_POLL_S = 0.5
Hook = Callable[[], Awaitable[None]]


async def run_job(ctx: dict[str, Any], job_id: str) -> None:
    """arq entry point: one attempt of one Clippy job."""
    store: RedisJobStore = ctx["clippy_store"]
    handlers: JobHandlers = ctx["clippy_handlers"]
    settings: Settings = ctx["clippy_settings"]
    attempt = int(ctx.get("job_try", 1))
    loop = asyncio.get_running_loop()

    def start(job: Job) -> bool:
        if job.status in TERMINAL:
            return False
        job.status, job.attempts, job.error = "running", attempt, None
        return True

    job = await store.update(job_id, start)
    if job is None or job.status != "running":
        return  # expired or cancelled before it ran

    pending: set[asyncio.Future[Any]] = set()

    def on_progress(step: int, total: int) -> None:
        def apply(j: Job) -> bool:
            if j.status != "running":
                return False
            j.progress = JobProgress(step=step, total=total)
            return True

        fut = asyncio.run_coroutine_threadsafe(store.update(job_id, apply), loop)
        pending.add(fut)  # type: ignore[arg-type]
        fut.add_done_callback(pending.discard)  # type: ignore[arg-type]

    jctx = JobContext(job_id, attempt=attempt, on_progress=on_progress)

    async def watch_cancel() -> None:
        while not jctx.cancelled:
            await asyncio.sleep(CANCEL_POLL_S)
            current = await store.load(job_id)
            if current is None or current.status == "cancelled":
                jctx.cancel()

    watcher = asyncio.create_task(watch_cancel())
    try:
        outcome = await run_attempt(
            handlers.get(job.kind),
            job.params,
            jctx,
            max_tries=settings.JOB_MAX_TRIES,
            backoff_s=settings.JOB_RETRY_BACKOFF_S,
        )
    except asyncio.CancelledError:
        jctx.cancel()  # the worker is shutting down: stop the handler's thread at its next step
        raise
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

    def finish(j: Job) -> bool:
        if j.status in TERMINAL:
            return False
        j.status, j.result, j.error = outcome.status, outcome.result, outcome.error
        return True

    await store.update(job_id, finish)
    if outcome.retry_in is not None:
        raise Retry(defer=outcome.retry_in)


def build_worker(
    settings: Settings,
    handlers: JobHandlers,
    *,
    on_startup: Hook | None = None,
    on_shutdown: Hook | None = None,
    handle_signals: bool = True,
    poll_delay: float = 0.5,
) -> Worker:
    """An arq Worker running Clippy jobs from settings.REDIS_URL."""
    if not settings.REDIS_URL:
        raise ValueError("The job worker needs REDIS_URL (e.g. redis://localhost:6379/0).")

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["clippy_store"] = RedisJobStore(ctx["redis"], prefix=settings.JOB_QUEUE_NAME, ttl_s=settings.JOB_TTL_S)
        ctx["clippy_handlers"] = handlers
        ctx["clippy_settings"] = settings
        if on_startup is not None:
            await on_startup()

    async def shutdown(ctx: dict[str, Any]) -> None:
        if on_shutdown is not None:
            await on_shutdown()

    return Worker(
        functions=[func(run_job, name=RUN_JOB, max_tries=settings.JOB_MAX_TRIES)],  # type: ignore[arg-type]
        queue_name=settings.JOB_QUEUE_NAME,
        redis_settings=RedisSettings.from_dsn(settings.REDIS_URL),
        max_jobs=settings.JOB_CONCURRENCY,
        job_timeout=settings.JOB_TIMEOUT_S,
        keep_result=0,
        max_tries=settings.JOB_MAX_TRIES,
        on_startup=startup,
        on_shutdown=shutdown,
        handle_signals=handle_signals,
        poll_delay=poll_delay,
    )


def main() -> None:
    from app.generation.service import build_generation_service

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    handlers = JobHandlers()
    # The worker has no job queue of its own to submit to, and no library store unless one
    # is wired: `addToLibrary` jobs are refused at submit time by an API without it.
    generation = build_generation_service(settings, jobs=None)
    generation.register_handlers(handlers)
    worker = build_worker(settings, handlers, on_startup=generation.start, on_shutdown=generation.stop)
    worker.run()


if __name__ == "__main__":
    main()
