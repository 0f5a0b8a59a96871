"""Job queue rigs: a started queue (in-process, or arq on Redis with its worker running), a
poller, and a set of handlers that echo, refuse, crash, retry, run long and nap."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from app.config import Settings
from app.errors import InvalidInputError, ProviderUnavailableError
from app.jobs import JobContext, JobHandlers, JobQueue, build_job_queue


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class QueueRig:
    """A started queue plus, for Redis, the arq worker running its jobs."""

    backend: str
    queue: JobQueue
    handlers: JobHandlers
    settings: Settings
    worker: Any = None  # arq's Worker, for the Redis backend
    worker_task: asyncio.Task[Any] | None = None

    async def restart_api(self) -> JobQueue:
        """A fresh API-side queue (as after an API restart); the worker keeps running."""
        await self.queue.stop()
        self.queue = build_job_queue(self.settings, self.handlers, backend=self.backend)  # type: ignore[arg-type]
        await self.queue.start()
        return self.queue


async def wait_for(queue: JobQueue, job_id: str, *statuses: str, timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await queue.get(job_id)
        if job.status in statuses:
            return job
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"job {job_id} is {job.status}, expected {statuses}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def queue_rig(
    backend: str, handlers: JobHandlers, redis_url: str | None = None, **overrides: Any
) -> AsyncIterator[QueueRig]:
    from app.jobs.worker import build_worker

    values: dict[str, Any] = {
        "JOB_CONCURRENCY": 2,
        "JOB_MAX_TRIES": 3,
        "JOB_RETRY_BACKOFF_S": 0.05,
        "JOB_QUEUE_LIMIT": 16,
        "JOB_DRAIN_S": 0,  # tests that stop with a job running don't wait for it (see test_shutdown)
        **overrides,
    }
    worker = None
    if backend == "redis":
        assert redis_url is not None
        values["REDIS_URL"] = redis_url
        values["JOB_QUEUE_NAME"] = f"clippy-test:{time.monotonic_ns()}"
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    queue = build_job_queue(settings, handlers, backend=backend)  # type: ignore[arg-type]
    await queue.start()
    rig = QueueRig(backend, queue, handlers, settings)
    if backend == "redis":
        worker = rig.worker = build_worker(settings, handlers, handle_signals=False, poll_delay=0.02)
        rig.worker_task = asyncio.create_task(worker.async_run())
    try:
        yield rig
    finally:
        if worker is not None:
            await worker.close()  # ClippyWorker: never re-raises a job task's cancellation
        if rig.worker_task is not None:
            rig.worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await rig.worker_task
        await rig.queue.stop()


def make_handlers() -> tuple[JobHandlers, dict[str, Any]]:
    seen: dict[str, Any] = {"flaky": 0}
    handlers = JobHandlers()

    async def echo(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        for step in range(1, 4):
            ctx.report(step, 3)
            await asyncio.sleep(0.01)
        return {"echo": params["value"]}

    async def refuse(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        raise InvalidInputError("`value` is not acceptable: 13")

    async def crash(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        raise RuntimeError("secret internals")

    async def flaky(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        seen["flaky"] += 1
        if ctx.attempt < 2:
            raise ProviderUnavailableError("the provider answered 503")
        return {"attempt": ctx.attempt}

    async def slow(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        # Blocking work in a thread, checking for cancellation between steps like diffusers.
        def work() -> dict[str, Any]:
            for step in range(200):
                ctx.check_cancelled()
                ctx.report(step + 1, 200)
                time.sleep(0.02)
            return {"done": True}

        seen["slow_thread"] = threading.current_thread().name
        return await asyncio.to_thread(work)

    async def nap(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        # Like `slow`, for `params["s"]` seconds; says when its thread has let go.
        def work() -> dict[str, Any]:
            try:
                end = time.monotonic() + params["s"]
                while time.monotonic() < end:
                    ctx.check_cancelled()
                    time.sleep(0.01)
                return {"slept": params["s"]}
            finally:
                seen.setdefault("nap_exits", []).append(ctx.attempt)

        return await asyncio.to_thread(work)

    def abandon(kind: str) -> Any:
        async def hook(params: dict[str, Any]) -> None:
            seen.setdefault("abandoned", []).append(params.get("name", kind))

        return hook

    kinds = [("echo", echo), ("refuse", refuse), ("crash", crash), ("flaky", flaky), ("slow", slow), ("nap", nap)]
    for kind, handler in kinds:
        handlers.register(kind, handler, on_abandon=abandon(kind))
    return handlers, seen
