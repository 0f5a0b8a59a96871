"""app/telemetry.py: stage fan-out that never fails a job, tracing off without an endpoint, and
with tracing on one trace per request through the job queue to the provider."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import telemetry
from app.api.middleware import TracingMiddleware
from app.jobs.base import JobQueue
from tests.support.blend import BlendProvider
from tests.support.generation import BACKENDS, make_app, make_settings, poll

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def test_stages_reach_every_subscriber_and_a_failing_one_is_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[str, str, float]] = []
    stages = telemetry.Stages()

    def broken(kind: str, stage: str, seconds: float) -> None:
        raise RuntimeError("registry gone")

    stages.subscribe(broken)
    stages.subscribe(lambda *args: seen.append(args))
    stages("story", "inference", 0.5)
    assert seen == [("story", "inference", 0.5)] and "story/inference failed" in caplog.text


def test_tracing_is_off_without_an_endpoint_and_spans_are_no_ops() -> None:
    assert telemetry.configure_tracing(None) is False
    with telemetry.span("anything", job_id="x"):
        pass


# --- traces: API → queue → worker → provider -------------------------------------------------

GENERATE = {"prompt": "pop art still life", "width": 64, "height": 64, "steps": 1, "seed": 3}


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Tracing on, through a provider of the test's own that keeps every finished span."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    telemetry.use_tracer_provider(provider)
    try:
        yield memory
    finally:
        telemetry.use_tracer_provider(None)
        provider.shutdown()


def traced_app(tmp_path: Path, redis: str | None = None) -> tuple[FastAPI, JobQueue]:
    settings = make_settings({}, tmp_path / "generated")
    app, _, jobs = make_app(settings, {"sdxl": BlendProvider()}, redis=redis)
    app.add_middleware(TracingMiddleware)  # as install_operations adds it to the real app
    return app, jobs


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_generate_request_is_one_trace_from_the_api_through_the_job_to_the_provider(
    backend: str, exporter: InMemorySpanExporter, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    redis = request.getfixturevalue("redis_url") if backend == "redis" else None
    app, jobs = traced_app(tmp_path, redis)
    with TestClient(app) as client:
        response = client.post("/images/generate", json=GENERATE)
        assert response.status_code == 202, response.text
        done = poll(client, response.headers["location"], "succeeded", "failed", timeout=30)
        assert done["status"] == "succeeded", done
        record = client.portal.call(jobs.get, done["id"])  # type: ignore[union-attr]

    spans = {s.name: s for s in exporter.get_finished_spans()}
    api = spans["HTTP POST /images/generate"]
    job = spans["job generate"]
    provider = spans["generation.provider"]
    assert api.attributes is not None and api.attributes["http.response.status_code"] == 202
    assert api.attributes["http.route"] == "/images/generate"
    assert api.context is not None and job.context is not None and provider.context is not None
    trace_id = api.context.trace_id
    assert job.context.trace_id == trace_id and provider.context.trace_id == trace_id
    # The job's span is the request's child (through the record, not a shared context: on
    # arq the worker runs it in its own task), and the provider's span the job's.
    assert job.parent is not None and job.parent.span_id == api.context.span_id
    assert provider.parent is not None and provider.parent.span_id == job.context.span_id
    assert job.attributes is not None and job.attributes["job.status"] == "succeeded"
    assert job.attributes["job.id"] == done["id"]
    # What travelled with the job is the W3C header of the request's span.
    assert record.trace is not None and record.trace["traceparent"].split("-")[1:3] == [
        f"{trace_id:032x}",
        f"{api.context.span_id:016x}",
    ]
    # Each poll is a trace of its own, named by its route template.
    polls = [s for s in exporter.get_finished_spans() if s.name == "HTTP GET /jobs/{job_id}"]
    assert polls and all(s.context is not None and s.context.trace_id != trace_id for s in polls)


def test_a_job_without_a_usable_trace_context_starts_its_own_trace(exporter: InMemorySpanExporter) -> None:
    with telemetry.span("unrelated") as outer:
        for carrier in (None, {"traceparent": "not-a-traceparent"}, {"traceparent": "00-" + "a" * 600}):
            with telemetry.job_span("generate", "j1", carrier) as current:
                assert current is not None
    assert outer is not None
    jobs = [s for s in exporter.get_finished_spans() if s.name == "job generate"]
    assert len(jobs) == 3 and all(s.parent is None for s in jobs)
    assert all(s.context is not None and s.context.trace_id != outer.get_span_context().trace_id for s in jobs)


def test_with_tracing_off_jobs_carry_no_trace_and_nothing_of_opentelemetry_is_imported(tmp_path: Path) -> None:
    """In a fresh interpreter, so the SDK imported by the tests above does not count. (FastAPI
    itself imports the OpenTelemetry API; the SDK and the exporter are what the extra adds.)"""
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from fastapi.testclient import TestClient
        from app.api.middleware import TracingMiddleware
        from tests.support.blend import BlendProvider
        from tests.support.generation import make_app, make_settings, poll

        app, _, jobs = make_app(make_settings({{}}, Path({str(tmp_path)!r})), {{"sdxl": BlendProvider()}})
        app.add_middleware(TracingMiddleware)
        with TestClient(app) as client:
            response = client.post("/images/generate", json={GENERATE!r})
            assert response.status_code == 202, response.text
            done = poll(client, response.headers["location"], "succeeded", "failed", timeout=30)
            assert done["status"] == "succeeded", done
            record = client.portal.call(jobs.get, done["id"])
        assert record.trace is None, record.trace
        print(sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk", "opentelemetry.exporter"))))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1]
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[]"
