"""Workers by kind (`python -m app.jobs.worker --kinds story,image`): a story worker and an
image worker take only their own lane's jobs; one worker for all lanes takes both."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.config import Settings
from app.jobs.arq_queue import ArqJobQueue, lane_of, lane_queue, parse_lanes
from app.jobs.base import JobContext, JobHandlers
from app.jobs.worker import build_workers, main, run_workers
from tests.support.jobs import wait_for

pytestmark = pytest.mark.anyio


def tagged_handlers(worker: str) -> JobHandlers:
    """Every kind, answering which worker ran it."""
    handlers = JobHandlers()
    for kind in ("story", "generate", "storyboard", "import"):

        async def run(params: dict[str, Any], ctx: JobContext, kind: str = kind) -> dict[str, Any]:
            return {"worker": worker, "kind": kind}

        handlers.register(kind, run)
    return handlers


@contextlib.asynccontextmanager
async def workers(settings: Settings, handlers: JobHandlers, lanes: list[str]) -> AsyncIterator[None]:
    started: list[str] = []

    async def up() -> None:
        started.append("up")

    built = build_workers(settings, handlers, lanes, on_startup=up, poll_delay=0.02)
    task = asyncio.create_task(run_workers(built))
    try:
        yield
    finally:
        for w in built:
            w.handle_sig(2)  # type: ignore[arg-type]
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert started == ["up"]  # the services start once, whatever the number of lanes


def lane_settings(redis_url: str) -> Settings:
    return Settings(_env_file=None, REDIS_URL=redis_url, JOB_QUEUE_NAME=f"lanes:{time.monotonic_ns()}")  # type: ignore[call-arg]


async def submit_all(api: ArqJobQueue) -> dict[str, str]:
    return {kind: (await api.submit(kind, {})).id for kind in ("story", "generate", "storyboard")}


async def test_separate_story_and_image_workers_take_only_their_own_jobs(redis_url: str) -> None:
    settings = lane_settings(redis_url)
    api = ArqJobQueue(redis_url, queue_name=settings.JOB_QUEUE_NAME)
    await api.start()
    try:
        ids = await submit_all(api)
        assert await api.depth() == 3
        async with workers(settings, tagged_handlers("story-worker"), parse_lanes("story")):
            story = await wait_for(api, ids["story"], "succeeded")
            # One poll of a shared queue would have taken all three: the image jobs stay queued.
            assert (await api.get(ids["generate"])).status == "queued"
        async with workers(settings, tagged_handlers("image-worker"), parse_lanes("image")):
            done = {k: await wait_for(api, ids[k], "succeeded") for k in ("generate", "storyboard")}
    finally:
        await api.stop()
    assert story.result == {"worker": "story-worker", "kind": "story"}
    assert {k: j.result["worker"] for k, j in done.items()} == {
        "generate": "image-worker",
        "storyboard": "image-worker",
    }


async def test_one_worker_for_story_and_image_takes_both(redis_url: str) -> None:
    settings = lane_settings(redis_url)
    api = ArqJobQueue(redis_url, queue_name=settings.JOB_QUEUE_NAME)
    await api.start()
    try:
        ids = await submit_all(api)
        async with workers(settings, tagged_handlers("one"), parse_lanes("story,image")):
            done = {k: await wait_for(api, i, "succeeded") for k, i in ids.items()}
        assert await api.depth() == 0
    finally:
        await api.stop()
    assert {k: j.result for k, j in done.items()} == {k: {"worker": "one", "kind": k} for k in ids}


def test_kinds_name_lanes_or_job_kinds() -> None:
    assert parse_lanes(None) == parse_lanes("") == ["image", "story"]
    assert parse_lanes("story") == ["story"] and parse_lanes("generate,story") == ["image", "story"]
    assert (
        lane_of("storyboard") == "image" and lane_queue("q", "image") == "q" and lane_queue("q", "story") == "q:story"
    )
    with pytest.raises(ValueError, match="Unknown job kind or lane: 'video'"):
        parse_lanes("story,video")


def test_the_worker_command_refuses_an_unknown_kind(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--kinds", "video"])
    assert e.value.code == 2 and "--kinds: Unknown job kind or lane: 'video'" in capsys.readouterr().err
