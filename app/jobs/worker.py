"""The Redis job worker: `python -m app.jobs.worker` (needs REDIS_URL).

Runs the same handlers as the API (`app.services.WorkerServices`), JOB_CONCURRENCY at a
time: `generate` always; `import` and `addToLibrary` when QDRANT_URL names a store this
process can open too (the embedded store belongs to one process, the API's). Transient
failures (retryable provider errors) are retried with exponential backoff up to
JOB_MAX_TRIES; a job whose worker died is re-delivered by arq. Cancellation: the API marks
the record `cancelled`; the worker notices within half a second and the handler stops at
its next step. An attempt longer than JOB_TIMEOUT_S fails with `timeout`; on SIGTERM,
running jobs get JOB_DRAIN_S to finish, then are cancelled and put back in the queue
(`interrupted`) for arq to run again, or failed if that was their last try.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from arq import Retry, Worker
from arq.connections import RedisSettings
from arq.worker import func

from app.config import Settings
from app.jobs.arq_queue import RUN_JOB, RedisJobStore, lane_queue, parse_lanes
from app.jobs.base import (
    TERMINAL,
    Job,
    JobContext,
    JobError,
    JobHandlers,
    JobProgress,
    Outcome,
    interrupted,
    run_kind,
    technical,
    timeout_error,
)

log = logging.getLogger(__name__)

CANCEL_POLL_S = 0.5
# arq's own timeout is a backstop behind JOB_TIMEOUT_S, which `run_attempt` enforces so the
# record says `timeout`; the margin leaves time to write it.
BACKSTOP_S = 60
Hook = Callable[[], Awaitable[None]]


class ClippyWorker(Worker):
    """arq's Worker whose close() always gets to `on_shutdown` (the services' close)."""

    async def close(self) -> None:
        # arq's close() gathers the job tasks it has just cancelled without
        # return_exceptions, so a task cancelled after `run_job` returned, while arq writes its
        # own bookkeeping, re-raises CancelledError out of close() and on_shutdown never runs.
        # The Clippy record is final by then (run_job wrote it), so wait for the tasks here,
        # outcome aside, and hand arq a worker with nothing left to gather.
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)  # what arq's close() does first
        if self.tasks:
            await asyncio.wait(list(self.tasks.values()))
            self.tasks.clear()
        await super().close()


async def run_job(ctx: dict[str, Any], job_id: str) -> None:
    """arq entry point: one attempt of one Clippy job. Whatever happens, the record does not
    stay `running`: it ends terminal, or `queued` again when arq will re-run it."""
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

    if attempt > settings.JOB_MAX_TRIES:
        # arq re-delivered a job whose worker died during its last try (arq is allowed one try
        # more than JOB_MAX_TRIES for this): say so instead of leaving the record `running`.
        message = "The worker running this job stopped during its last try (JOB_MAX_TRIES)."
        await _finish(store, handlers, job_id, Outcome("failed", error=interrupted(message)))
        return

    job = await store.update(job_id, start)
    if job is None or job.status != "running":
        if job is not None and job.status == "cancelled":  # cancelled while queued
            await handlers.abandon(job)
        return  # expired or cancelled before it ran

    pending: set[asyncio.Future[Any]] = set()

    def on_progress(progress: JobProgress) -> None:
        def apply(j: Job) -> bool:
            if j.status != "running":
                return False
            j.progress = progress
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
    started = loop.time()
    try:
        outcome = await run_kind(
            handlers,
            job.kind,
            job.params,
            jctx,
            max_tries=settings.JOB_MAX_TRIES,
            backoff_s=settings.JOB_RETRY_BACKOFF_S,
            timeout_s=settings.JOB_TIMEOUT_S,
            trace=job.trace,
        )
    except asyncio.CancelledError:
        # The worker is shutting down (after JOB_DRAIN_S) or arq's backstop timeout fired:
        # stop the handler's thread at its next step and say so in the record. arq runs a
        # job cancelled by a shutdown again, unless this was its last try.
        jctx.cancel()
        if loop.time() - started >= settings.JOB_TIMEOUT_S:
            # arq's backstop: it counts as a failure and arq does not run the job again.
            await _finish(store, handlers, job_id, Outcome("failed", error=timeout_error(settings.JOB_TIMEOUT_S)))
            raise
        again = attempt < settings.JOB_MAX_TRIES
        message = "The worker stopped while this job ran; " + (
            "it runs again when a worker picks it up." if again else "that was its last try (JOB_MAX_TRIES)."
        )
        await _finish(store, handlers, job_id, Outcome("queued" if again else "failed", error=interrupted(message)))
        raise
    except Exception as e:  # a bug around the handler (the store, the watcher): fail, never hang
        log.exception("job %s crashed outside its handler", job_id)
        outcome = Outcome(
            "failed",
            error=JobError(
                code="internal_error",
                message="The job failed unexpectedly; see the details or the worker log.",
                detail=technical(e),
            ),
        )
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

    if pending:  # progress the handler's thread sent last must not land after the final status
        await asyncio.wait([asyncio.wrap_future(f) for f in list(pending)], timeout=5)
    await _finish(store, handlers, job_id, outcome)
    if outcome.retry_in is not None:
        raise Retry(defer=outcome.retry_in)


async def _finish(store: RedisJobStore, handlers: JobHandlers, job_id: str, outcome: Outcome) -> None:
    def finish(j: Job) -> bool:
        if j.status in TERMINAL:  # cancelled meanwhile: keep it that way
            return False
        j.status, j.result, j.error = outcome.status, outcome.result, outcome.error
        return True

    job = await store.update(job_id, finish)
    if job is not None and job.status in ("failed", "cancelled"):
        await handlers.abandon(job)  # arq runs a job again only while it is `queued`


def build_worker(
    settings: Settings,
    handlers: JobHandlers,
    *,
    on_startup: Hook | None = None,
    on_shutdown: Hook | None = None,
    handle_signals: bool = True,
    poll_delay: float = 0.5,
    lane: str = "image",
) -> Worker:
    """An arq Worker running Clippy jobs from settings.REDIS_URL, from one lane's queue
    (app/jobs/arq_queue.py LANES: `image` is JOB_QUEUE_NAME itself)."""
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

    return ClippyWorker(
        # One try more than JOB_MAX_TRIES: the extra one only records that the last try died.
        functions=[func(run_job, name=RUN_JOB, max_tries=settings.JOB_MAX_TRIES + 1)],  # type: ignore[arg-type]
        queue_name=lane_queue(settings.JOB_QUEUE_NAME, lane),
        redis_settings=RedisSettings.from_dsn(settings.REDIS_URL),
        max_jobs=settings.JOB_CONCURRENCY,
        job_timeout=settings.JOB_TIMEOUT_S + BACKSTOP_S,
        # SIGTERM/SIGINT: stop taking jobs, give running ones JOB_DRAIN_S, then cancel them.
        job_completion_wait=round(settings.JOB_DRAIN_S),
        keep_result=0,
        max_tries=settings.JOB_MAX_TRIES + 1,
        on_startup=startup,
        on_shutdown=shutdown,
        handle_signals=handle_signals,
        poll_delay=poll_delay,
    )


def build_workers(
    settings: Settings,
    handlers: JobHandlers,
    lanes: list[str],
    *,
    on_startup: Hook | None = None,
    on_shutdown: Hook | None = None,
    poll_delay: float = 0.5,
) -> list[Worker]:
    """One arq Worker per lane, sharing the handlers (and so the models): the services start
    with the first worker and stop with the last. Signals are not theirs: `run_workers`
    hands a SIGTERM to all of them."""
    if not lanes:
        raise ValueError("`lanes` must name at least one lane")
    return [
        build_worker(
            settings,
            handlers,
            on_startup=on_startup if i == 0 else None,
            on_shutdown=on_shutdown if i == len(lanes) - 1 else None,
            handle_signals=False,
            poll_delay=poll_delay,
            lane=lane,
        )
        for i, lane in enumerate(lanes)
    ]


async def run_workers(workers: list[Worker], drain: bool = True) -> None:
    """Run the workers until SIGTERM/SIGINT (each stops taking jobs and drains JOB_DRAIN_S),
    then close them in order (the last runs the services' shutdown)."""
    loop = asyncio.get_running_loop()

    def stop(signum: signal.Signals) -> None:
        for worker in workers:
            if drain:
                worker.handle_sig_wait_for_completion(signum)
            else:
                worker.handle_sig(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop, signum)
    try:
        await asyncio.gather(*(w.async_run() for w in workers), return_exceptions=True)
    finally:
        for worker in workers:
            await worker.close()


def main(argv: list[str] | None = None) -> None:
    # Settings come from the environment (.env too); the command line only documents them, so
    # `--help` answers without a Redis and a missing REDIS_URL is one line, not a traceback.
    parser = argparse.ArgumentParser(
        prog="python -m app.jobs.worker",
        description="Run Clippy's queued jobs from Redis (arq). Configured by the environment, as the API is.",
        epilog="Needs REDIS_URL; also reads JOB_CONCURRENCY, JOB_QUEUE_NAME, JOB_TIMEOUT_S, JOB_DRAIN_S, "
        "JOB_MAX_TRIES and the store and model settings (docs/operations.md).",
    )
    parser.add_argument(
        "--kinds",
        default=None,
        help="Which jobs to run: lanes `story` and/or `image` (generate, storyboard, import), or job kinds, "
        "comma-separated (default: all). The seed's separate workers: `--kinds story` and `--kinds image`.",
    )
    args = parser.parse_args(argv)
    try:
        lanes = parse_lanes(args.kinds)
    except ValueError as e:
        parser.exit(2, f"{parser.prog}: --kinds: {e}\n")
    settings = Settings()
    if not settings.REDIS_URL:
        parser.exit(2, f"{parser.prog}: REDIS_URL is not set; the worker takes its jobs from Redis.\n")

    from app.api.logs import configure_logging
    from app.services import WorkerServices
    from app.telemetry import configure_tracing

    configure_logging(settings)  # LOG_FORMAT and LOG_LEVEL, as the API's
    # The same handlers as the API, built the same way (`Services.open`), so `import` jobs
    # and `addToLibrary` run here too when the library is reachable (QDRANT_URL).
    configure_tracing(settings.OTEL_EXPORTER_OTLP_ENDPOINT, "clippy-worker")
    services = WorkerServices.open(settings)
    log.info("job worker for lanes %s (kinds %s) on queue %r", lanes, services.handlers.kinds, settings.JOB_QUEUE_NAME)

    async def serve() -> None:
        # Built inside the running loop: arq binds each worker to the loop current at construction.
        workers = build_workers(
            settings, services.handlers, lanes, on_startup=services.start, on_shutdown=services.stop
        )
        await run_workers(workers, drain=round(settings.JOB_DRAIN_S) > 0)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
