"""app/telemetry.py: stage fan-out that never fails a job, tracing off without an endpoint."""

from __future__ import annotations

import pytest

from app import telemetry


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
