"""Graceful shutdown of the in-process queue: running jobs get JOB_DRAIN_S to finish; the rest
are cancelled, marked interrupted, and their threads have let go before `stop()` returns, so
`Services.stop` can close the store after it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from app.embedding import Encoders
from app.jobs import JobContext
from app.jobs.memory import InProcessJobQueue
from app.services import Services
from tests.support.jobs import make_handlers, wait_for
from tests.support.settings import tiny_settings

pytestmark = pytest.mark.anyio


async def test_stop_lets_a_running_job_finish_within_the_drain() -> None:
    handlers, seen = make_handlers()
    queue = InProcessJobQueue(handlers, concurrency=1, drain_s=10)
    await queue.start()
    job = await queue.submit("nap", {"s": 2})
    await wait_for(queue, job.id, "running")
    queued = await queue.submit("echo", {"value": 1})  # not started by a draining queue
    started = time.monotonic()
    await queue.stop()
    assert time.monotonic() - started < 5
    done = await queue.get(job.id)
    assert done.status == "succeeded" and done.result == {"slept": 2}
    assert seen["nap_exits"] == [1]
    assert (await queue.get(queued.id)).status == "queued"  # a draining queue starts nothing new


async def test_stop_interrupts_a_job_longer_than_the_drain_and_waits_for_its_thread() -> None:
    handlers, seen = make_handlers()
    queue = InProcessJobQueue(handlers, drain_s=0.2)
    await queue.start()
    job = await queue.submit("nap", {"s": 30})
    await wait_for(queue, job.id, "running")
    started = time.monotonic()
    await queue.stop()
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 5
    assert seen["nap_exits"] == [1]  # the thread let go before stop() returned
    stopped = await queue.get(job.id)
    assert stopped.status == "failed" and stopped.error is not None
    assert stopped.error.code == "interrupted" and stopped.result is None


async def test_services_close_the_store_only_after_a_writing_job_thread_has_let_go(
    tmp_path: Path, encoders: Encoders
) -> None:
    settings = tiny_settings(tmp_path, JOB_DRAIN_S=0.1)
    services = Services.open(settings, encoders=encoders)
    events: list[str] = []
    errors: list[BaseException] = []
    close = services.store.close

    def close_store() -> None:
        events.append("store closed")
        close()

    services.store.close = close_store  # type: ignore[method-assign]

    async def write(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        # Stands for an import: a thread that uses the store until it is told to stop.
        def work() -> dict[str, Any]:
            try:
                for _ in range(3000):
                    ctx.check_cancelled()
                    services.store.count()
                    time.sleep(0.01)
            except BaseException as e:
                if type(e).__name__ != "JobCancelled":
                    errors.append(e)
                raise
            finally:
                events.append("thread done")
            return {}

        return await asyncio.to_thread(work)

    services.handlers.register("write", write)
    await services.start()
    assert services.jobs is not None
    job = await services.jobs.submit("write", {})
    await wait_for(services.jobs, job.id, "running")
    await asyncio.sleep(0.1)
    await services.stop()
    assert events == ["thread done", "store closed"] and errors == []
    assert (await services.jobs.get(job.id)).error.code == "interrupted"  # type: ignore[union-attr]
