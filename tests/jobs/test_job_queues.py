"""The same behaviour from both job backends (in-process and arq on a real Redis)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.errors import IdempotencyKeyReusedError, NotFoundError, OverloadedError
from app.jobs.base import IdempotencyKey, JobContext, backoff_delay
from tests.support.jobs import make_handlers, queue_rig, wait_for

pytestmark = pytest.mark.anyio

BACKENDS = ["memory", "redis"]


async def abandoned(seen: dict[str, Any], n: int, timeout: float = 15.0) -> list[str]:
    """The first `n` jobs whose kind was told to release what they staged (the queue does it
    just after writing the final status, so a poller can see the status first)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while len(seen.get("abandoned", [])) < n and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    return list(seen.get("abandoned", []))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return request.param, url


async def test_a_job_goes_from_queued_to_succeeded_with_progress(backend: tuple[str, str | None]) -> None:
    handlers, _ = make_handlers()
    async with queue_rig(*backend[:1], handlers, backend[1]) as rig:
        job = await rig.queue.submit("echo", {"value": 7})
        assert job.status == "queued" and job.kind == "echo"
        done = await wait_for(rig.queue, job.id, "succeeded")
        assert done.result == {"echo": 7}
        assert done.progress is not None and done.progress.total == 3
        assert done.error is None and done.updated_at >= done.created_at


async def test_what_a_running_job_made_so_far_shows_before_it_ends(backend: tuple[str, str | None]) -> None:
    """`report(..., partial)` lands in the record while the job runs (a storyboard's frames);
    the handler goes on only once the test has seen it (an Event, not a clock)."""
    handlers, _ = make_handlers()
    seen = asyncio.Event()

    async def halves(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        ctx.report(1, 2, {"frames": [{"index": 0}]})
        await asyncio.wait_for(seen.wait(), 30)
        return {"frames": [{"index": 0}, {"index": 1}]}

    handlers.register("halves", halves)
    async with queue_rig(backend[0], handlers, backend[1]) as rig:
        job = await rig.queue.submit("halves", {})
        deadline = asyncio.get_running_loop().time() + 30
        while (running := await rig.queue.get(job.id)).progress is None:
            assert asyncio.get_running_loop().time() < deadline, running
            await asyncio.sleep(0.02)
        seen.set()
        assert running.status == "running" and running.result is None
        assert running.progress is not None and running.progress.partial == {"frames": [{"index": 0}]}
        assert running.view().model_dump(by_alias=True)["progress"]["partial"] == {"frames": [{"index": 0}]}
        done = await wait_for(rig.queue, job.id, "succeeded")
        assert done.result == {"frames": [{"index": 0}, {"index": 1}]}


async def test_a_failing_handler_fails_the_job_with_its_reason(backend: tuple[str, str | None]) -> None:
    handlers, _ = make_handlers()
    async with queue_rig(backend[0], handlers, backend[1]) as rig:
        job = await rig.queue.submit("refuse", {})
        failed = await wait_for(rig.queue, job.id, "failed")
        assert failed.error.code == "invalid_input"
        assert "13" in failed.error.message


async def test_a_crash_fails_the_job_without_leaking_internals(backend: tuple[str, str | None]) -> None:
    handlers, _ = make_handlers()
    async with queue_rig(backend[0], handlers, backend[1]) as rig:
        job = await rig.queue.submit("crash", {})
        failed = await wait_for(rig.queue, job.id, "failed")
        assert failed.error.code == "internal_error"
        assert "secret" not in failed.error.message


async def test_transient_provider_errors_are_retried_with_backoff(backend: tuple[str, str | None]) -> None:
    handlers, seen = make_handlers()
    async with queue_rig(backend[0], handlers, backend[1]) as rig:
        job = await rig.queue.submit("flaky", {})
        done = await wait_for(rig.queue, job.id, "succeeded")
        assert done.result == {"attempt": 2}
        assert done.attempts == 2 and seen["flaky"] == 2


async def test_retries_stop_after_the_last_try(backend: tuple[str, str | None]) -> None:
    handlers, seen = make_handlers()
    async with queue_rig(backend[0], handlers, backend[1], JOB_MAX_TRIES=1) as rig:
        job = await rig.queue.submit("flaky", {})
        failed = await wait_for(rig.queue, job.id, "failed")
        assert failed.error.code == "provider_unavailable" and seen["flaky"] == 1


async def test_cancelling_a_running_job_stops_its_thread(backend: tuple[str, str | None]) -> None:
    handlers, _ = make_handlers()
    async with queue_rig(backend[0], handlers, backend[1]) as rig:
        job = await rig.queue.submit("slow", {})
        running = await wait_for(rig.queue, job.id, "running")
        while (await rig.queue.get(job.id)).progress is None:
            await asyncio.sleep(0.02)
        cancelled = await rig.queue.cancel(running.id)
        assert cancelled.status == "cancelled"
        await asyncio.sleep(1.0)  # the handler stops at its next step; nothing overwrites
        final = await rig.queue.get(job.id)
        assert final.status == "cancelled" and final.result is None
        assert final.progress is not None and final.progress.step < 200


async def test_cancelling_a_queued_job_means_it_never_runs(backend: tuple[str, str | None]) -> None:
    handlers, seen = make_handlers()
    async with queue_rig(backend[0], handlers, backend[1], JOB_CONCURRENCY=1) as rig:
        blocker = await rig.queue.submit("slow", {})
        await wait_for(rig.queue, blocker.id, "running")
        queued = await rig.queue.submit("flaky", {})
        assert (await rig.queue.cancel(queued.id)).status == "cancelled"
        await rig.queue.cancel(blocker.id)
        await asyncio.sleep(0.5)
        assert (await rig.queue.get(queued.id)).status == "cancelled"
        assert seen["flaky"] == 0


async def test_a_job_that_ends_for_good_without_success_releases_what_it_staged(
    backend: tuple[str, str | None],
) -> None:
    handlers, seen = make_handlers()
    async with queue_rig(backend[0], handlers, backend[1], JOB_CONCURRENCY=1) as rig:
        ok = await rig.queue.submit("echo", {"value": 1, "name": "succeeded"})
        retried = await rig.queue.submit("flaky", {"name": "retried, then succeeded"})
        bad = await rig.queue.submit("refuse", {"name": "failed"})
        for job, status in [(ok, "succeeded"), (retried, "succeeded"), (bad, "failed")]:
            await wait_for(rig.queue, job.id, status)
        blocker = await rig.queue.submit("slow", {"name": "cancelled running"})
        await wait_for(rig.queue, blocker.id, "running")
        queued = await rig.queue.submit("echo", {"value": 2, "name": "cancelled queued"})
        await rig.queue.cancel(queued.id)
        await rig.queue.cancel(blocker.id)
        released = await abandoned(seen, 3)
        await asyncio.sleep(0.3)  # nothing else is released later
        assert sorted(seen["abandoned"]) == sorted(released) == ["cancelled queued", "cancelled running", "failed"]


async def test_cancelling_a_finished_job_returns_its_final_state(backend: tuple[str, str | None]) -> None:
    handlers, _ = make_handlers()
    async with queue_rig(backend[0], handlers, backend[1]) as rig:
        job = await rig.queue.submit("echo", {"value": 1})
        await wait_for(rig.queue, job.id, "succeeded")
        assert (await rig.queue.cancel(job.id)).status == "succeeded"


async def test_an_idempotency_key_with_the_same_request_returns_the_same_job(backend: tuple[str, str | None]) -> None:
    handlers, _ = make_handlers()
    async with queue_rig(backend[0], handlers, backend[1]) as rig:
        first = await rig.queue.submit("echo", {"value": 1}, idempotency_key=IdempotencyKey("k-1", "request-a"))
        again = await rig.queue.submit("echo", {"value": 1}, idempotency_key=IdempotencyKey("k-1", "request-a"))
        other = await rig.queue.submit("echo", {"value": 3}, idempotency_key=IdempotencyKey("k-2", "request-a"))
        assert again.id == first.id and other.id != first.id
        assert (await rig.queue.find(IdempotencyKey("k-1", "request-a"))).id == first.id
        assert await rig.queue.find(IdempotencyKey("nope", "request-a")) is None
        assert (await wait_for(rig.queue, first.id, "succeeded")).result == {"echo": 1}


async def test_an_idempotency_key_reused_by_another_request_is_refused(backend: tuple[str, str | None]) -> None:
    handlers, _ = make_handlers()
    async with queue_rig(backend[0], handlers, backend[1]) as rig:
        first = await rig.queue.submit("echo", {"value": 1}, idempotency_key=IdempotencyKey("k", "import-request"))
        # Another body, or another route and kind: never the first job, never a silent no-op.
        for kind, params in (("echo", {"value": 2}), ("slow", {})):
            with pytest.raises(IdempotencyKeyReusedError) as info:
                await rig.queue.submit(kind, params, idempotency_key=IdempotencyKey("k", "generate-request"))
            assert info.value.status_code == 422 and info.value.details["job"] == first.id
        with pytest.raises(IdempotencyKeyReusedError):
            await rig.queue.find(IdempotencyKey("k", "generate-request"))
        assert await rig.queue.depth() <= 1, "the refused submits queued nothing"


async def test_an_idempotency_key_expires_after_its_ttl(backend: tuple[str, str | None]) -> None:
    handlers, _ = make_handlers()
    async with queue_rig(backend[0], handlers, backend[1], IDEMPOTENCY_TTL_S=0.3) as rig:
        first = await rig.queue.submit("echo", {"value": 1}, idempotency_key=IdempotencyKey("k", "a"))
        await wait_for(rig.queue, first.id, "succeeded")
        await asyncio.sleep(0.5)
        assert await rig.queue.find(IdempotencyKey("k", "b")) is None
        # Free again: another request may use it, and gets its own job.
        second = await rig.queue.submit("echo", {"value": 2}, idempotency_key=IdempotencyKey("k", "b"))
        assert second.id != first.id
        assert (await wait_for(rig.queue, second.id, "succeeded")).result == {"echo": 2}
        assert (await rig.queue.get(first.id)).result == {"echo": 1}, "the record outlives its key"


async def test_unknown_jobs_and_kinds_are_refused(backend: tuple[str, str | None]) -> None:
    handlers, _ = make_handlers()
    async with queue_rig(backend[0], handlers, backend[1]) as rig:
        with pytest.raises(NotFoundError):
            await rig.queue.get("0" * 32)
        with pytest.raises(NotFoundError):
            await rig.queue.cancel("0" * 32)
        with pytest.raises(ValueError, match="Unknown job kind"):
            await rig.queue.submit("nope", {})


async def test_a_full_queue_answers_overloaded(backend: tuple[str, str | None]) -> None:
    handlers, _ = make_handlers()
    async with queue_rig(backend[0], handlers, backend[1], JOB_CONCURRENCY=1, JOB_QUEUE_LIMIT=1) as rig:
        first = await rig.queue.submit("slow", {})
        await wait_for(rig.queue, first.id, "running")
        with pytest.raises(OverloadedError) as info:
            await rig.queue.submit("slow", {})
        assert info.value.details["retry_after"] > 0
        await rig.queue.cancel(first.id)


async def test_a_job_longer_than_the_timeout_fails_with_timeout_and_its_thread_stops(
    backend: tuple[str, str | None],
) -> None:
    handlers, seen = make_handlers()
    async with queue_rig(backend[0], handlers, backend[1], JOB_TIMEOUT_S=1) as rig:
        job = await rig.queue.submit("nap", {"s": 20})
        failed = await wait_for(rig.queue, job.id, "failed", timeout=10)
        assert failed.error.code == "timeout" and "JOB_TIMEOUT_S (1 s)" in failed.error.message
        assert failed.attempts == 1  # a timeout is not retried
        for _ in range(100):
            if seen.get("nap_exits"):
                break
            await asyncio.sleep(0.02)
        assert seen["nap_exits"] == [1]


async def test_the_in_process_queue_says_it_forgets_jobs() -> None:
    handlers, _ = make_handlers()
    async with queue_rig("memory", handlers) as rig:
        assert rig.queue.durable is False
        with pytest.raises(NotFoundError, match="REDIS_URL"):
            await rig.queue.get("missing")


async def test_redis_job_records_survive_an_api_restart(redis_url: str) -> None:
    handlers, _ = make_handlers()
    async with queue_rig("redis", handlers, redis_url) as rig:
        assert rig.queue.durable is True
        key = IdempotencyKey("restart", "request")
        job = await rig.queue.submit("echo", {"value": 5}, idempotency_key=key)
        await wait_for(rig.queue, job.id, "succeeded")
        queue = await rig.restart_api()
        assert (await queue.get(job.id)).result == {"echo": 5}
        assert (await queue.submit("echo", {"value": 5}, idempotency_key=key)).id == job.id
        with pytest.raises(IdempotencyKeyReusedError):
            await queue.submit("echo", {"value": 5}, idempotency_key=IdempotencyKey("restart", "another"))


def test_backoff_doubles_per_attempt() -> None:
    assert [backoff_delay(a, 2.0) for a in (1, 2, 3)] == [2.0, 4.0, 8.0]
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(0, 1.0)


def test_the_in_process_queue_restarts_in_a_new_loop_and_says_running_jobs_were_interrupted() -> None:
    import anyio

    from app.jobs.memory import InProcessJobQueue

    handlers, _ = make_handlers()
    queue = InProcessJobQueue(handlers, drain_s=0)

    async def first_life() -> str:
        await queue.start()
        slow = await queue.submit("slow", {})
        await wait_for(queue, slow.id, "running")
        await queue.stop()
        return slow.id

    async def second_life(slow_id: str) -> tuple[Any, Any]:
        await queue.start()
        try:
            job = await queue.submit("echo", {"value": 1})
            return await wait_for(queue, job.id, "succeeded"), await queue.get(slow_id)
        finally:
            await queue.stop()

    slow_id = anyio.run(first_life)
    done, interrupted = anyio.run(second_life, slow_id)
    assert done.result == {"echo": 1}
    assert interrupted.status == "failed" and interrupted.error.code == "interrupted"
    assert "REDIS_URL" in interrupted.error.message


async def test_active_lists_the_queued_and_running_jobs_of_a_kind(backend: tuple[str, str | None]) -> None:
    """What a library delete asks before it deletes (imports into it still running)."""
    handlers, _ = make_handlers()
    go = asyncio.Event()

    async def held(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        ctx.report(0, 1)
        await asyncio.wait_for(go.wait(), 30)
        return {}

    handlers.register("held", held)
    async with queue_rig(backend[0], handlers, backend[1]) as rig:
        done = await rig.queue.submit("echo", {"value": 1})
        await wait_for(rig.queue, done.id, "succeeded")
        running = await rig.queue.submit("held", {"library": "a"})
        deadline = asyncio.get_running_loop().time() + 30
        while (await rig.queue.get(running.id)).status != "running":
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        assert [(j.id, j.params) for j in await rig.queue.active("held")] == [(running.id, {"library": "a"})]
        assert await rig.queue.active("echo") == [], "a finished job is not active"
        go.set()
        await wait_for(rig.queue, running.id, "succeeded")
        assert await rig.queue.active("held") == []
