"""Prometheus metrics: request latency per route template, search stages, job queue depth,
generation latency and stages (model load, retrieval, inference), RAG retrieval, GPU memory.

One registry per app (tests build many apps; the global registry would refuse duplicates).
`GET /metrics` serves it in the text exposition format. With several worker processes
each has its own numbers: run one worker per container and let Prometheus sum them.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:  # app.services imports the whole service; metrics only reads it
    from app.services import Services

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "clippy_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "clippy_http_request_duration_seconds",
            "Time from request to the end of the response, per route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("clippy_http_requests_in_flight", "Requests being answered now.", registry=r)
        self.search_stage = Histogram(
            "clippy_search_stage_seconds",
            "Search time per stage: embed (encoders), qdrant (the query), rerank (exact re-scoring).",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.job_depth = Gauge("clippy_job_queue_depth", "Jobs queued or running.", registry=r)
        self.points = Gauge("clippy_collection_points", "Points in the collection.", registry=r)
        self.ready = Gauge("clippy_ready", "1 when the model and store are loaded.", registry=r)
        self.generation_stage = Histogram(
            "clippy_generation_stage_seconds",
            "Generation job time per stage (app/telemetry.py): load (model load, 0 when warm), retrieval, "
            "inference, index/library (filing results).",
            ["kind", "stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.generation_latency = Histogram(
            "clippy_generation_duration_seconds",
            "Whole generation job time, per job kind (story, storyboard).",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rag_retrieval = Histogram(
            "clippy_rag_retrieval_seconds",
            "Retrieval of earlier frames, generations and library images for one storyboard frame.",
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.gpu_memory = Gauge(
            "clippy_gpu_memory_bytes", "CUDA memory held by this process's tensors (absent without CUDA).", registry=r
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_search(self, timings: Any) -> None:
        """`timings` is a search result's Timings (encode/search/rerank in milliseconds)."""
        self.search_stage.labels("embed").observe(timings.encode_ms / 1000)
        self.search_stage.labels("qdrant").observe(timings.search_ms / 1000)
        if timings.rerank_ms:
            self.search_stage.labels("rerank").observe(timings.rerank_ms / 1000)

    def observe_stage(self, kind: str, stage: str, seconds: float) -> None:
        """A generation job's stage (a `Stages` subscriber); `total` is the whole job."""
        if stage == "total":
            self.generation_latency.labels(kind).observe(seconds)
            return
        self.generation_stage.labels(kind, stage).observe(seconds)
        if stage == "retrieval":
            self.rag_retrieval.observe(seconds)

    def refresh_gpu(self) -> None:
        # Only where torch is already loaded (a scrape never imports it) and CUDA is present.
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            self.gpu_memory.set(torch.cuda.memory_allocated())

    async def refresh(self, services: Services | None) -> None:
        """Gauges read at scrape time from `app.state.services` (None before the lifespan)."""
        if services is None:
            self.ready.set(0)
            return
        self.ready.set(1 if services.ready else 0)
        self.refresh_gpu()
        self.job_depth.set(await services.jobs.depth())
        if services.space.usable:
            self.points.set(await run_in_threadpool(services.store.count))


def observe_search(request: Request, timings: Any) -> None:
    """Record a search's stage timings, when metrics are on (call from the route)."""
    metrics: Metrics | None = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.observe_search(timings)


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    name="get_metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    await registry.refresh(getattr(request.app.state, "services", None))
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
