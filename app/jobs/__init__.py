"""Slow work off the request path: generation (`generate`) and bulk imports (`import`).

`build_job_queue(settings, handlers)` picks the backend: in-process (default) or arq on
Redis when REDIS_URL is set. Both implement `JobQueue` (see `base.py`).
"""

from __future__ import annotations

from typing import Literal

from app.config import Settings
from app.jobs.base import (
    IdempotencyKey,
    Job,
    JobCancelled,
    JobContext,
    JobHandlers,
    JobQueue,
    JobView,
    UnavailableJobQueue,
)

__all__ = [
    "IdempotencyKey",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobHandlers",
    "JobQueue",
    "JobView",
    "UnavailableJobQueue",
    "build_job_queue",
]


def build_job_queue(
    settings: Settings,
    handlers: JobHandlers,
    backend: Literal["auto", "memory", "redis"] = "auto",
) -> JobQueue:
    """The queue the settings ask for. Call `await queue.start()` / `stop()` in the lifespan."""
    if backend == "auto":
        backend = "redis" if settings.REDIS_URL else "memory"
    match backend:
        case "memory":
            from app.jobs.memory import InProcessJobQueue

            return InProcessJobQueue(
                handlers,
                concurrency=settings.JOB_CONCURRENCY,
                queue_limit=settings.JOB_QUEUE_LIMIT,
                max_tries=settings.JOB_MAX_TRIES,
                backoff_s=settings.JOB_RETRY_BACKOFF_S,
                ttl_s=settings.JOB_TTL_S,
                timeout_s=settings.JOB_TIMEOUT_S,
                drain_s=settings.JOB_DRAIN_S,
                idempotency_ttl_s=settings.IDEMPOTENCY_TTL_S,
            )
        case "redis":
            from app.jobs.arq_queue import ArqJobQueue

            if not settings.REDIS_URL:
                raise ValueError("The Redis job queue needs REDIS_URL.")
            return ArqJobQueue(
                settings.REDIS_URL,
                kinds=lambda: handlers.kinds,
                queue_name=settings.JOB_QUEUE_NAME,
                queue_limit=settings.JOB_QUEUE_LIMIT,
                ttl_s=settings.JOB_TTL_S,
                idempotency_ttl_s=settings.IDEMPOTENCY_TTL_S,
            )
        case _:
            raise ValueError(f"Unknown job backend: {backend!r}. Available: ['memory', 'redis']")
