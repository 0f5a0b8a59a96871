"""`python -m app.jobs.worker` as its own process runs a generation queued by the API side, and
stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from app.config import Settings
from app.generation.models import GenerateRequest
from app.services import build_generation_and_jobs
from tests.support.tiny_sdxl import build_tiny_sdxl

# ~15 s on a busy 2-core machine (most of it the worker importing torch and diffusers).


def test_the_worker_process_runs_a_queued_generation(redis_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        **build_tiny_sdxl(tmp_path / "tiny").env(),
        "REDIS_URL": redis_url,
        "JOB_QUEUE_NAME": "clippy-worker-test",
        "GENERATED_ROOT": str(tmp_path / "generated"),
        "DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
        "JOB_DRAIN_S": "5",
    }
    env.pop("QDRANT_URL", None)  # generation only: this worker cannot open the test's store
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.jobs.worker"],
        env=env,
        cwd=Path(__file__).parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        REDIS_URL=redis_url,
        JOB_QUEUE_NAME="clippy-worker-test",
        GENERATED_ROOT=tmp_path / "generated",
        SDXL_MAX_SIDE=256,
    )

    async def submit_and_wait() -> dict[str, object]:
        generation, jobs = build_generation_and_jobs(settings)
        await jobs.start()
        try:
            job = await generation.submit(GenerateRequest(prompt="a kite", width=64, height=64, steps=2, seed=9))
            deadline = time.monotonic() + 240  # a busy machine: the worker imports torch first
            while (job := await jobs.get(job.id)).status not in ("succeeded", "failed"):
                assert time.monotonic() < deadline, "the worker never finished the job"
                await asyncio.sleep(0.2)
            return job.model_dump(by_alias=True)
        finally:
            await jobs.stop()

    try:
        job = asyncio.run(submit_and_wait())
    finally:
        worker.terminate()
        _, stderr = worker.communicate(timeout=60)
    log = stderr.decode()
    assert job["status"] == "succeeded", (job, log[-2000:])
    assert "(kinds ['generate', 'story', 'storyboard'])" in log and worker.returncode == 0, log[-2000:]
    (image,) = job["result"]["images"]  # type: ignore[index]
    assert (tmp_path / "generated" / image["url"].removeprefix("/generated/")).is_file()
