"""Stage timings of generation jobs, to whoever listens (Prometheus in the API process,
app/api/metrics.py), and optional OpenTelemetry traces.

`Stages` is the one seam: job handlers (app/stories) call `stages(kind, stage, seconds)`;
the API's metrics subscribe to it. Traces are on only when OTEL_EXPORTER_OTLP_ENDPOINT is set
(Langfuse and any OTLP collector accept them) and the `opentelemetry-sdk` +
`opentelemetry-exporter-otlp-proto-http` packages are installed; otherwise `span()` is a
no-op and nothing is imported, so no tracing dependency is needed when it is off.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)

StageSink = Callable[[str, str, float], None]


def no_stages(kind: str, stage: str, seconds: float) -> None:
    """The sink of a job service that nobody observes."""


class Stages:
    """Fan-out of (job kind, stage, seconds) to subscribers; a failing sink never fails a job."""

    def __init__(self) -> None:
        self._sinks: list[StageSink] = []
        self._lock = threading.Lock()

    def subscribe(self, sink: StageSink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def __call__(self, kind: str, stage: str, seconds: float) -> None:
        with self._lock:
            sinks = list(self._sinks)
        for sink in sinks:
            try:
                sink(kind, stage, seconds)
            except Exception:  # metrics are an observer: never the job's failure
                log.exception("recording stage %s/%s failed", kind, stage)


_tracer: Any = None
_tracer_lock = threading.Lock()


def configure_tracing(endpoint: str | None, service_name: str = "clippy") -> bool:
    """Send spans to `endpoint` (OTLP over HTTP); True when tracing is on. Idempotent."""
    global _tracer  # one tracer provider per process, as OpenTelemetry itself requires
    if not endpoint:
        return False
    with _tracer_lock:
        if _tracer is not None:
            return True
        try:
            from opentelemetry import trace
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError:
            log.warning(
                "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed; no traces are sent "
                "(pip install 'clippy[otel]')"
            )
            return False
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")))
        trace.set_tracer_provider(provider)
        _tracer = trace.get_tracer("clippy")
        log.info("OpenTelemetry traces go to %s", endpoint)
        return True


def use_tracer_provider(provider: Any | None) -> None:
    """Trace through `provider` (an SDK `TracerProvider`), or stop tracing with None.

    For tests: OpenTelemetry lets a process set its global provider once, so a test brings
    its own (with an in-memory exporter) here instead of through `configure_tracing`."""
    global _tracer
    with _tracer_lock:
        _tracer = provider.get_tracer("clippy") if provider is not None else None


def tracing_on() -> bool:
    return _tracer is not None


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A span named `name` when tracing is on (yielded, to add attributes or rename it);
    None, and nothing else, otherwise."""
    tracer = _tracer
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(
        name, attributes={k: v for k, v in attributes.items() if v is not None}
    ) as current:
        yield current


# A W3C trace context travels with a job in a few short headers; anything longer is not one.
_CARRIER_KEYS = ("traceparent", "tracestate")
_CARRIER_VALUE_MAX = 512


def trace_carrier() -> dict[str, str] | None:
    """The current trace context as W3C headers (`traceparent`, `tracestate`), for a job to
    carry to the worker that runs it; None when tracing is off or no span is current."""
    if _tracer is None:
        return None
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    kept = {k: v for k, v in carrier.items() if k in _CARRIER_KEYS}
    return kept or None


@contextlib.contextmanager
def job_span(kind: str, job_id: str, carrier: dict[str, str] | None, attempt: int = 1) -> Iterator[Any]:
    """The span "job {kind}" around one attempt of a job, a child of the request that queued
    it when `carrier` (from `trace_carrier`) came with the job: API, queue, worker and the
    provider's spans are then one trace. Nothing when tracing is off."""
    tracer = _tracer
    if tracer is None:
        yield None
        return
    from opentelemetry import propagate
    from opentelemetry.trace import SpanKind

    headers = {
        k: v
        for k, v in (carrier or {}).items()
        if k in _CARRIER_KEYS and isinstance(v, str) and len(v) <= _CARRIER_VALUE_MAX
    }
    # With no carrier (a job queued before tracing was on) the span starts its own trace
    # rather than joining whatever span happens to be current in the worker.
    parent = propagate.extract(headers, context=_empty_context())
    with tracer.start_as_current_span(
        f"job {kind}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={"job.id": job_id, "job.kind": kind, "job.attempt": attempt},
    ) as current:
        yield current


def _empty_context() -> Any:
    from opentelemetry.context import Context

    return Context()
