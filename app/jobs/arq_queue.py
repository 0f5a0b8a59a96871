"""Jobs on Redis with arq: records survive API restarts; `python -m app.jobs.worker` runs them.

Why arq: it is asyncio-native like the API, maintained, small, already a dependency, and it
brings deferred retries (`Retry(defer=...)`), job timeouts, and re-delivery of jobs whose
worker died. arq's own result storage is not used: Clippy keeps one JSON record per job
(`{prefix}:job:{id}`, expiring after JOB_TTL_S) that both the API and the workers update
with optimistic transactions, so a cancel is never overwritten by a late progress report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from app.errors import OverloadedError
from app.jobs.base import TERMINAL, IdempotencyKey, Job, JobQueue, check_reuse, new_job_id, unknown_job, utcnow
from app.telemetry import trace_carrier

log = logging.getLogger(__name__)

RUN_JOB = "run_job"


class RedisJobStore:
    """Job records and Idempotency-Key mappings in Redis, shared by the API and the workers."""

    def __init__(self, redis: Redis, *, prefix: str, ttl_s: int, idempotency_ttl_s: float | None = None) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        # A key never outlives the record it points to (milliseconds: the TTL may be short).
        self.idempotency_ttl_ms = max(1, int(min(idempotency_ttl_s or ttl_s, ttl_s) * 1000))

    def job_key(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def idem_key(self, key: str) -> str:
        return f"{self.prefix}:idem:{key}"

    async def load(self, job_id: str) -> Job | None:
        raw = await self.redis.get(self.job_key(job_id))
        return Job.model_validate_json(raw) if raw else None

    async def save(self, job: Job) -> None:
        await self.redis.set(self.job_key(job.id), job.model_dump_json(), ex=self.ttl_s)

    async def claim_key(self, key: str, job_id: str) -> str | None:
        """Bind an Idempotency-Key to `job_id`; returns the job id it already had, if any."""
        if await self.redis.set(self.idem_key(key), job_id, nx=True, px=self.idempotency_ttl_ms):
            return None
        existing = await self.redis.get(self.idem_key(key))
        return existing.decode() if isinstance(existing, bytes) else existing

    async def update(self, job_id: str, change: Callable[[Job], bool], *, retries: int = 20) -> Job | None:
        """Apply `change` (returns False to leave the record alone) atomically."""
        key = self.job_key(job_id)
        for _ in range(retries):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if not raw:
                        return None
                    job = Job.model_validate_json(raw)
                    if not change(job):
                        await pipe.unwatch()  # type: ignore[no-untyped-call]
                        return job
                    job.updated_at = utcnow()
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(key, job.model_dump_json(), ex=self.ttl_s)
                    await pipe.execute()
                    return job
                except WatchError:
                    continue
        raise RuntimeError(f"Could not update job {job_id!r}: too much contention.")


class ArqJobQueue(JobQueue):
    """The API side: records jobs in Redis and enqueues them for arq workers."""

    durable = True

    def __init__(
        self,
        redis_url: str,
        *,
        kinds: Callable[[], list[str]] | None = None,
        queue_name: str = "clippy:jobs",
        queue_limit: int = 64,
        ttl_s: int = 7 * 24 * 3600,
        idempotency_ttl_s: float = 24 * 3600,
    ) -> None:
        self._redis_url = redis_url
        self._idempotency_ttl_s = idempotency_ttl_s
        self._kinds = kinds
        self._queue_name = queue_name
        self._queue_limit = queue_limit
        self._ttl_s = ttl_s
        self._pool: Any = None
        self._store: RedisJobStore | None = None

    @property
    def store(self) -> RedisJobStore:
        if self._store is None:
            raise RuntimeError("The Redis job queue is not started; call `await start()` first.")
        return self._store

    async def start(self) -> None:
        from arq.connections import RedisSettings, create_pool

        if self._pool is not None:
            return
        self._pool = await create_pool(RedisSettings.from_dsn(self._redis_url), default_queue_name=self._queue_name)
        self._store = RedisJobStore(
            self._pool, prefix=self._queue_name, ttl_s=self._ttl_s, idempotency_ttl_s=self._idempotency_ttl_s
        )
        log.info("Redis job queue %r at %s", self._queue_name, _redact(self._redis_url))

    async def stop(self) -> None:
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await self._pool.aclose()
        self._pool = None
        self._store = None

    async def find(self, idempotency_key: IdempotencyKey) -> Job | None:
        raw = await self.store.redis.get(self.store.idem_key(idempotency_key.key))
        if not raw:
            return None
        job = await self.store.load(raw.decode() if isinstance(raw, bytes) else raw)
        return check_reuse(job, idempotency_key) if job is not None else None

    async def submit(
        self,
        kind: str,
        params: dict[str, Any],
        idempotency_key: IdempotencyKey | None = None,
        owner: str | None = None,
    ) -> Job:
        if self._kinds is not None and kind not in self._kinds():
            raise ValueError(f"Unknown job kind: {kind!r}. Registered: {self._kinds()}")
        now = utcnow()
        job = Job(
            id=new_job_id(),
            kind=kind,
            status="queued",
            params=params,
            idempotency_key=idempotency_key.key if idempotency_key else None,
            request_fingerprint=idempotency_key.fingerprint if idempotency_key else None,
            owner=owner,
            trace=trace_carrier(),
            created_at=now,
            updated_at=now,
        )
        if idempotency_key is not None:
            existing_id = await self.store.claim_key(idempotency_key.key, job.id)
            if existing_id is not None:
                # A concurrent twin may have claimed the key a moment ago: wait for its record.
                for _ in range(50):
                    if existing := await self.store.load(existing_id):
                        return check_reuse(existing, idempotency_key)
                    await asyncio.sleep(0.02)
                raise unknown_job(existing_id)
        if await self.depth() >= self._queue_limit:
            if idempotency_key is not None:
                await self.store.redis.delete(self.store.idem_key(idempotency_key.key))
            raise OverloadedError(
                f"{self._queue_limit} jobs are already queued or running (JOB_QUEUE_LIMIT); try again later.",
                retry_after=5,
            )
        await self.store.save(job)
        queue = lane_queue(self._queue_name, lane_of(kind))
        await self._pool.enqueue_job(RUN_JOB, job.id, _job_id=job.id, _queue_name=queue)
        return job

    async def get(self, job_id: str) -> Job:
        job = await self.store.load(job_id)
        if job is None:
            raise unknown_job(job_id, "Job records expire after JOB_TTL_S.")
        return job

    async def cancel(self, job_id: str) -> Job:
        def mark(job: Job) -> bool:
            if job.status in TERMINAL:
                return False
            job.status = "cancelled"
            return True

        job = await self.store.update(job_id, mark)
        if job is None:
            raise unknown_job(job_id, "Job records expire after JOB_TTL_S.")
        return job

    async def active(self, kind: str) -> list[Job]:
        # The lane's sorted set holds the ids (arq's job id is ours) of its queued and running jobs.
        ids = await self.store.redis.zrange(lane_queue(self._queue_name, lane_of(kind)), 0, -1)
        jobs = [await self.store.load(i.decode() if isinstance(i, bytes) else str(i)) for i in ids]
        return [job for job in jobs if job is not None and job.kind == kind and not job.finished]

    async def depth(self) -> int:
        # arq keeps a job in the queue's sorted set until it finishes: queued + running.
        total = 0
        for lane in LANES:
            total += int(await self.store.redis.zcard(lane_queue(self._queue_name, lane)))
        return total


# Lanes: which arq queue a job kind waits in, so workers can be split by kind
# (`python -m app.jobs.worker --kinds story` / `--kinds image`, as the RAVSG seed runs a story
# worker and an image worker) or run all of them. The `image` lane keeps the queue's own name
# (JOB_QUEUE_NAME), so jobs queued before lanes existed are still found.
LANES: dict[str, tuple[str, ...]] = {
    "image": ("generate", "storyboard", "import"),
    "story": ("story",),
}


def lane_of(kind: str) -> str:
    """The lane a job kind is queued in (a kind no lane names goes to `image`, the default)."""
    return next((lane for lane, kinds in LANES.items() if kind in kinds), "image")


def lane_queue(queue_name: str, lane: str) -> str:
    return queue_name if lane == "image" else f"{queue_name}:{lane}"


def parse_lanes(value: str | None) -> list[str]:
    """`--kinds`: comma-separated lanes (`story`, `image`) or job kinds (`generate`, …) → lanes,
    in LANES order; None or empty → every lane."""
    if not value or not value.strip():
        return list(LANES)
    wanted: set[str] = set()
    for name in (v.strip() for v in value.split(",")):
        if name in LANES:
            wanted.add(name)
        elif any(name in kinds for kinds in LANES.values()):
            wanted.add(lane_of(name))
        elif name:
            known = sorted({*LANES, *(k for kinds in LANES.values() for k in kinds)})
            raise ValueError(f"Unknown job kind or lane: {name!r}. Available: {known}")
    return [lane for lane in LANES if lane in wanted]


def _redact(url: str) -> str:
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
