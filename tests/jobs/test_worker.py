"""The Redis worker's `run_job` never leaves a record `running`: unknown kinds, crashes around
the handler and worker shutdowns all end in a status that says what happened."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from app.jobs.arq_queue import ArqJobQueue
from app.jobs.worker import build_worker
from tests.support.jobs import make_handlers, queue_rig, wait_for

pytestmark = pytest.mark.anyio


async def test_a_kind_the_worker_does_not_know_fails_the_job_naming_the_kinds_it_knows(redis_url: str) -> None:
    handlers, _ = make_handlers()
    async with queue_rig("redis", handlers, redis_url) as rig:
        # An API that registers more kinds than this worker (e.g. built from other settings).
        api = ArqJobQueue(redis_url, queue_name=rig.settings.JOB_QUEUE_NAME)
        await api.start()
        try:
            job = await api.submit("ghost", {})
            failed = await wait_for(api, job.id, "failed")
        finally:
            await api.stop()
    assert failed.error.code == "unknown_kind"
    assert "'ghost'" in failed.error.message and "'echo'" in failed.error.message


async def test_a_crash_around_the_handler_fails_the_job_instead_of_leaving_it_running(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.jobs.worker as worker_module

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the store went away")

    monkeypatch.setattr(worker_module, "run_kind", broken)
    handlers, _ = make_handlers()
    async with queue_rig("redis", handlers, redis_url) as rig:
        job = await rig.queue.submit("echo", {"value": 1})
        failed = await wait_for(rig.queue, job.id, "failed")
    assert failed.error.code == "internal_error" and "store" not in failed.error.message


async def test_a_job_cut_off_by_a_worker_shutdown_is_queued_again_and_finished_by_the_next_worker(
    redis_url: str,
) -> None:
    handlers, seen = make_handlers()
    async with queue_rig("redis", handlers, redis_url) as rig:
        job = await rig.queue.submit("nap", {"s": 4})
        await wait_for(rig.queue, job.id, "running")
        assert rig.worker is not None
        await rig.worker.close()  # what SIGTERM does once JOB_DRAIN_S is over
        interrupted = await rig.queue.get(job.id)
        assert interrupted.status == "queued", interrupted
        assert interrupted.error is not None and interrupted.error.code == "interrupted"
        assert "runs again" in interrupted.error.message
        deadline = asyncio.get_running_loop().time() + 10
        while not seen.get("nap_exits") and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)  # the handler's thread was told to stop, too
        assert seen["nap_exits"] == [1]

        second = build_worker(rig.settings, handlers, handle_signals=False, poll_delay=0.02)
        task = asyncio.create_task(second.async_run())
        try:
            done = await wait_for(rig.queue, job.id, "succeeded")
        finally:
            await second.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert done.attempts == 2 and done.error is None and done.result == {"slept": 4}
    assert "abandoned" not in seen, "a job cut off by a shutdown runs again: its staged files stay"


async def test_a_shutdown_during_the_last_try_fails_the_job_as_interrupted(redis_url: str) -> None:
    handlers, seen = make_handlers()
    async with queue_rig("redis", handlers, redis_url, JOB_MAX_TRIES=1) as rig:
        job = await rig.queue.submit("nap", {"s": 5})
        await wait_for(rig.queue, job.id, "running")
        assert rig.worker is not None
        await rig.worker.close()
        failed = await rig.queue.get(job.id)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.code == "interrupted" and "JOB_MAX_TRIES" in failed.error.message
    assert seen["abandoned"] == ["nap"], "nothing runs it again: what it staged is released"


async def test_a_job_whose_worker_died_during_its_last_try_is_failed_when_arq_delivers_it_again(
    redis_url: str,
) -> None:
    import time

    from app.config import Settings
    from app.jobs.worker import run_job

    handlers, seen = make_handlers()
    name = f"clippy-test-dead:{time.monotonic_ns()}"
    settings = Settings(_env_file=None, REDIS_URL=redis_url, JOB_QUEUE_NAME=name, JOB_MAX_TRIES=2)  # type: ignore[call-arg]
    api = ArqJobQueue(redis_url, queue_name=name)  # no worker: this test plays arq's part
    await api.start()
    try:
        job = await api.submit("echo", {"value": 1})

        def died_running(j: Any) -> bool:  # what a SIGKILLed worker leaves behind
            j.status, j.attempts = "running", 2
            return True

        await api.store.update(job.id, died_running)
        ctx = {"clippy_store": api.store, "clippy_handlers": handlers, "clippy_settings": settings, "job_try": 3}
        await run_job(ctx, job.id)
        failed = await api.get(job.id)
    finally:
        await api.stop()
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.code == "interrupted" and "last try" in failed.error.message
    # The handler never ran; what the request staged for it is released.
    assert failed.result is None and seen == {"flaky": 0, "abandoned": ["echo"]}


def test_the_worker_waits_job_drain_s_on_a_signal_and_backs_up_job_timeout_s() -> None:
    from app.config import Settings

    settings = Settings(_env_file=None, REDIS_URL="redis://127.0.0.1:1/0", JOB_DRAIN_S=12, JOB_TIMEOUT_S=100)  # type: ignore[call-arg]
    worker = build_worker(settings, make_handlers()[0], handle_signals=False)
    assert worker._job_completion_wait == 12
    # arq's timeout only backs up JOB_TIMEOUT_S, which the job enforces itself (`timeout`).
    assert worker.job_timeout_s > 100
    # arq may deliver a job once more than JOB_MAX_TRIES, only to record a dead last try.
    assert worker.functions["run_job"].max_tries == settings.JOB_MAX_TRIES + 1


async def test_a_worker_closed_while_arq_records_a_finished_job_still_runs_its_shutdown(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from app.config import Settings
    from app.jobs.worker import ClippyWorker

    finishing = asyncio.Event()
    arq_finish_job = ClippyWorker.finish_job

    async def slow_finish_job(self: ClippyWorker, *args: Any) -> None:
        finishing.set()  # run_job has returned: the record is final, arq's bookkeeping is not
        await asyncio.sleep(0.3)
        await arq_finish_job(self, *args)

    monkeypatch.setattr(ClippyWorker, "finish_job", slow_finish_job)
    name = f"clippy-test-close:{time.monotonic_ns()}"
    settings = Settings(_env_file=None, REDIS_URL=redis_url, JOB_QUEUE_NAME=name)  # type: ignore[call-arg]
    stopped: list[bool] = []

    async def on_shutdown() -> None:
        stopped.append(True)

    api = ArqJobQueue(redis_url, queue_name=name)
    await api.start()
    handlers, _ = make_handlers()
    worker = build_worker(settings, handlers, on_shutdown=on_shutdown, handle_signals=False, poll_delay=0.02)
    task = asyncio.create_task(worker.async_run())
    try:
        job = await api.submit("echo", {"value": 7})
        await asyncio.wait_for(finishing.wait(), 15)
        await worker.close()  # cancels the task inside arq's shielded finish: no CancelledError here
        done = await api.get(job.id)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await api.stop()
    assert stopped == [True]
    assert done.status == "succeeded" and done.result == {"echo": 7}
