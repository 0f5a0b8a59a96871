"""Job queue fixtures: the in-process queue, and arq on a real `redis-server` (started here
on a free loopback port, stopped after the session). Each queue test runs on both."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from app.config import Settings
from app.jobs import JobHandlers, JobQueue, build_job_queue

torch.set_num_threads(1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on loopback (install: apt-get install -y redis-server)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    port = _free_port()
    workdir: Path = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


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
