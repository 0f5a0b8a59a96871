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
                "(pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http)"
            )
            return False
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")))
        trace.set_tracer_provider(provider)
        _tracer = trace.get_tracer("clippy")
        log.info("OpenTelemetry traces go to %s", endpoint)
        return True


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[None]:
    """A span named `name` when tracing is on; nothing otherwise."""
    tracer = _tracer
    if tracer is None:
        yield
        return
    with tracer.start_as_current_span(name, attributes={k: v for k, v in attributes.items() if v is not None}):
        yield
