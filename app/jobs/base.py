"""The job interface: a job is a kind + JSON params + progress + a result or an error.

Handlers are registered by kind (`generate`, `import`) and run by a backend:
`memory.InProcessJobQueue` (default) or `arq_queue.ArqJobQueue` (REDIS_URL). Both run a
handler through `run_kind` / `run_attempt`, so they agree on what succeeded, failed (with
`timeout` past JOB_TIMEOUT_S, `unknown_kind` for a kind nobody registered), was cancelled,
or should be retried.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from app.errors import ClippyError, IdempotencyKeyReusedError, NotFoundError, UnavailableError
from app.models import LenientCamelModel
from app.telemetry import job_span

log = logging.getLogger(__name__)

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_job_id() -> str:
    return uuid.uuid4().hex


class JobProgress(LenientCamelModel):
    step: int
    total: int
    # What a running job has made so far, for kinds that hand work over as it finishes (a
    # storyboard's frames); its schema per kind is declared in app/api/openapi.py. Bounded by
    # the handler: it holds no more than the result will.
    partial: dict[str, Any] | None = Field(
        default=None, description="What the job has made so far, while it runs (by `kind`)."
    )


# A job error's `message` is one line a person can act on; what went wrong technically
# (exception text, a traceback's tail) goes to `detail`, bounded.
MESSAGE_MAX = 200
DETAIL_MAX = 4000


class JobError(LenientCamelModel):
    code: str
    message: str = Field(description="One line for people: what failed and what to do.")
    detail: str | None = Field(default=None, description="The technical text (exception, cause), when there is one.")

    @classmethod
    def of(cls, code: str, message: str, detail: str | None = None) -> JobError:
        """`message` cut to its first line and MESSAGE_MAX characters; what was cut goes to `detail`."""
        first, _, rest = message.strip().partition("\n")
        if len(first) > MESSAGE_MAX:
            first, rest = first[: MESSAGE_MAX - 1].rstrip() + "…", message
        extra = "\n".join(x for x in (rest.strip(), detail or "") if x)
        return cls(code=code, message=first, detail=extra[-DETAIL_MAX:] or None)


def technical(e: BaseException) -> str:
    """The exception and its causes, last frames included, bounded (for `JobError.detail`)."""
    import traceback

    return "".join(traceback.format_exception(e, limit=-3))[-DETAIL_MAX:]


class JobView(LenientCamelModel):
    """What GET /jobs/{id} answers (see .plan/CONTRACT.md)."""

    id: str
    kind: str
    status: JobStatus
    progress: JobProgress | None = None
    # The handler's JSON as it wrote it; its schema per kind (GenerateResult, ImportResult)
    # is declared where the API knows the kinds (app/api/openapi.py).
    result: dict[str, Any] | None = None
    error: JobError | None = None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class IdempotencyKey:
    """An `Idempotency-Key` bound to the request that sent it (IETF draft
    "The Idempotency-Key HTTP Header Field"): the same key with the same request returns the
    first job; the same key with another request (another body, route, method or owner) is
    refused, so a request is never silently answered with a job it did not ask for.

    `key` is already in the caller's namespace (`Principal.idempotency_key`); `fingerprint`
    is a digest of the request (app/api/idempotency.py)."""

    key: str
    fingerprint: str


def check_reuse(job: Job, key: IdempotencyKey) -> Job:
    """`job` (the one `key` first created) if it was created by the same request, else
    `IdempotencyKeyReusedError` (422)."""
    if job.request_fingerprint != key.fingerprint:
        raise IdempotencyKeyReusedError(
            f"The Idempotency-Key {key.key.rpartition(':')[2]!r} was already used with another request "
            f"(job {job.id}, kind {job.kind!r}); send a new key for a new request.",
            job=job.id,
        )
    return job


class Job(JobView):
    """The stored record: the view plus what only the queue needs."""

    params: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = None
    # What `IdempotencyKey.fingerprint` the request that created it had.
    request_fingerprint: str | None = None
    attempts: int = 0
    # The owner of the key that queued it (app/library/access.py); None for operator keys.
    # Only that owner (and operators) may see or cancel it: GET/DELETE /jobs/{id}.
    owner: str | None = None
    # The W3C trace context (`traceparent`, `tracestate`) of the request that queued it, when
    # tracing is on (app/telemetry.py): the worker's span for the job joins that trace.
    trace: dict[str, str] | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def view(self) -> JobView:
        return JobView.model_validate(self.model_dump(include=set(JobView.model_fields)))


class JobCancelled(Exception):
    """Raised inside a handler (by `JobContext.check_cancelled`) to stop a cancelled job."""


class JobContext:
    """What a running handler may use: report progress, notice cancellation.

    Both methods are safe to call from a worker thread (diffusers' step callback runs there).
    """

    def __init__(
        self,
        job_id: str,
        attempt: int = 1,
        on_progress: Callable[[JobProgress], None] | None = None,
    ) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self._on_progress = on_progress
        self._cancel = threading.Event()

    def report(self, step: int, total: int, partial: dict[str, Any] | None = None) -> None:
        """`step` of `total` done; `partial` is what is finished so far (JSON, in the kind's
        partial shape), shown by GET /jobs/{id} before the job ends."""
        if self._on_progress is not None:
            self._on_progress(JobProgress(step=step, total=total, partial=partial))

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled(self.job_id)


Handler = Callable[[dict[str, Any], JobContext], Awaitable[dict[str, Any]]]


Abandon = Callable[[dict[str, Any]], Awaitable[None]]


class JobHandlers:
    """Handlers registered by kind. A queue refuses kinds nobody registered."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._on_abandon: dict[str, Abandon] = {}

    def register(self, kind: str, handler: Handler, *, on_abandon: Abandon | None = None) -> None:
        """`on_abandon(params)` runs once a job of this kind has ended without success and
        will not run again (failed, cancelled, interrupted on its last try): what the request
        staged for the job (an import's uploads) can go then, and not before, since a job
        cut off by a shutdown runs again."""
        if kind in self._handlers:
            raise ValueError(f"A handler for job kind {kind!r} is already registered.")
        self._handlers[kind] = handler
        if on_abandon is not None:
            self._on_abandon[kind] = on_abandon

    async def abandon(self, job: Job) -> None:
        """Let `job`'s kind release what it staged; a failure here is logged, never raised
        (the job's record is already final)."""
        hook = self._on_abandon.get(job.kind)
        if hook is None:
            return
        try:
            await hook(job.params)
        except Exception:
            log.exception("releasing what job %s (%s) staged failed", job.id, job.kind)

    def get(self, kind: str) -> Handler:
        try:
            return self._handlers[kind]
        except KeyError:
            raise ValueError(f"Unknown job kind: {kind!r}. Registered: {sorted(self._handlers)}") from None

    def __contains__(self, kind: object) -> bool:
        return kind in self._handlers

    @property
    def kinds(self) -> list[str]:
        return sorted(self._handlers)


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended. `retry_in` is set when the queue should try again."""

    status: JobStatus
    result: dict[str, Any] | None = None
    error: JobError | None = None
    retry_in: float | None = None


def backoff_delay(attempt: int, base_s: float) -> float:
    """Exponential backoff: base, 2·base, 4·base, … for attempts 1, 2, 3, …"""
    if attempt < 1:
        raise ValueError(f"`attempt` must be >= 1 but is {attempt}.")
    return float(base_s * 2 ** (attempt - 1))


def interrupted(message: str) -> JobError:
    return JobError(code="interrupted", message=message)


async def run_kind(
    handlers: JobHandlers,
    kind: str,
    params: dict[str, Any],
    ctx: JobContext,
    *,
    max_tries: int,
    backoff_s: float,
    timeout_s: float | None = None,
    trace: dict[str, str] | None = None,
) -> Outcome:
    """`run_attempt` with the handler registered for `kind`; a kind nobody registered here
    (a worker built without it) fails the job instead of leaving it running. With tracing
    on, the attempt runs in the span "job {kind}", a child of `trace` (`Job.trace`)."""
    if kind not in handlers:
        return Outcome(
            "failed",
            error=JobError(
                code="unknown_kind",
                message=f"No handler for job kind {kind!r} in this worker. Registered: {handlers.kinds}",
            ),
        )
    with job_span(kind, ctx.job_id, trace, ctx.attempt) as current:
        outcome = await run_attempt(
            handlers.get(kind), params, ctx, max_tries=max_tries, backoff_s=backoff_s, timeout_s=timeout_s
        )
        if current is not None:
            current.set_attribute("job.status", outcome.status)
            if outcome.error is not None:
                current.set_attribute("job.error", outcome.error.code)
        return outcome


def timeout_error(timeout_s: float | None) -> JobError:
    limit = f" ({timeout_s:g} s)" if timeout_s is not None else ""
    return JobError(code="timeout", message=f"The job ran longer than JOB_TIMEOUT_S{limit} and was stopped.")


async def run_attempt(
    handler: Handler,
    params: dict[str, Any],
    ctx: JobContext,
    *,
    max_tries: int,
    backoff_s: float,
    timeout_s: float | None = None,
) -> Outcome:
    """Run one attempt of a handler and classify how it ended. Never raises (but lets the
    caller's own cancellation through: the caller records what a shutdown means)."""
    deadline = asyncio.timeout(timeout_s)
    try:
        try:
            async with deadline:
                result = await handler(params, ctx)
        except TimeoutError:
            if not deadline.expired():
                raise  # the handler's own TimeoutError: classified below like any crash
            ctx.cancel()  # the handler's thread stops at its next step
            return Outcome("failed", error=timeout_error(timeout_s))
    except JobCancelled:
        return Outcome("cancelled")
    except ClippyError as e:
        if ctx.cancelled:
            return Outcome("cancelled")
        error = JobError.of(e.code, e.message, e.technical or (technical(e.__cause__) if e.__cause__ else None))
        if getattr(e, "retryable", False) and ctx.attempt < max_tries:
            log.warning("job %s attempt %d failed, will retry: %s", ctx.job_id, ctx.attempt, e)
            return Outcome("queued", error=error, retry_in=backoff_delay(ctx.attempt, backoff_s))
        return Outcome("failed", error=error)
    except Exception as e:
        log.exception("job %s crashed", ctx.job_id)
        if ctx.cancelled:
            return Outcome("cancelled")
        return Outcome(
            "failed",
            error=JobError(
                code="internal_error",
                message="The job failed unexpectedly; see the details or the server log.",
                detail=technical(e),
            ),
        )
    if ctx.cancelled:
        return Outcome("cancelled")
    return Outcome("succeeded", result=result)


def unknown_job(job_id: str, hint: str = "") -> NotFoundError:
    return NotFoundError(f"No job with id {job_id!r}.{(' ' + hint) if hint else ''}", id=job_id)


class JobQueue(ABC):
    """Submit, look up, cancel. Backends: in-process (default) and arq on Redis."""

    durable: bool = False

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def submit(
        self,
        kind: str,
        params: dict[str, Any],
        idempotency_key: IdempotencyKey | None = None,
        owner: str | None = None,
    ) -> Job:
        """Queue a job, or return the job an earlier submit with the same key and the same
        request created (`IdempotencyKeyReusedError` for the same key from another request)."""

    @abstractmethod
    async def find(self, idempotency_key: IdempotencyKey) -> Job | None:
        """The job a submit with this Idempotency-Key created, if the key has not expired
        (IDEMPOTENCY_TTL_S); `IdempotencyKeyReusedError` if another request created it."""

    @abstractmethod
    async def get(self, job_id: str) -> Job:
        """The job, or NotFoundError."""

    @abstractmethod
    async def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job; a finished job is returned unchanged."""

    @abstractmethod
    async def depth(self) -> int:
        """Jobs queued or running (for readiness checks and backpressure)."""

    @abstractmethod
    async def active(self, kind: str) -> list[Job]:
        """The jobs of `kind` queued or running (e.g. imports into a library about to be deleted)."""


class UnavailableJobQueue(JobQueue):
    """The queue of a process that runs jobs but queues none (`python -m app.jobs.worker`):
    every call answers with an `UnavailableError` that says why, so the services that hold
    a queue never hold None."""

    def __init__(self, reason: str, setting: str = "REDIS_URL") -> None:
        self.reason = reason
        self.setting = setting

    def _error(self) -> UnavailableError:
        return UnavailableError(f"No job queue in this process: {self.reason}", self.setting)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def submit(
        self,
        kind: str,
        params: dict[str, Any],
        idempotency_key: IdempotencyKey | None = None,
        owner: str | None = None,
    ) -> Job:
        raise self._error()

    async def find(self, idempotency_key: IdempotencyKey) -> Job | None:
        raise self._error()

    async def get(self, job_id: str) -> Job:
        raise self._error()

    async def cancel(self, job_id: str) -> Job:
        raise self._error()

    async def depth(self) -> int:
        return 0

    async def active(self, kind: str) -> list[Job]:
        return []
