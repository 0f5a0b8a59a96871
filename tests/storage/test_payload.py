"""The typed payload reads what today's writer stores and writes the same JSON keys."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from app.storage.payload import Payload
from app.storage.schema import OWNED_FIELD, PAYLOAD_INDEXES, TENANT_FIELD

# A payload as the pipeline wrote it before the model existed (app/ingest/pipeline.py), with
# the extras a manifest row, an import and a generated image add.
WRITTEN_BEFORE: dict[str, Any] = {
    "source": None,
    "title": "A box",
    "origin": "https://example.org/a.png",
    "caption": None,
    "generated": {"jobId": "j1", "provider": "sdxl", "model": "tiny", "seed": 7},
    "path": "generated/a.png",
    "tags": ["box", "red"],
    "sha256": "ab" * 32,
    "width": 96,
    "height": 64,
    "bytes": 1234,
    "library": "default",
    "edge_version": "canny-median-v1",
    "shape_version": "hog-5x5-v1",
    "text_template": "a picture of {tags}",
    "ingested_at": "2026-01-02T03:04:05+00:00",
    "owned": True,
}


def test_a_payload_written_by_the_old_code_round_trips_exactly() -> None:
    payload = Payload.read(WRITTEN_BEFORE)
    assert payload.stored() == WRITTEN_BEFORE
    assert (payload.path, payload.tags, payload.width, payload.file_bytes) == (
        "generated/a.png",
        ["box", "red"],
        96,
        1234,
    )
    assert payload.is_owned and payload.library == "default" and payload.source is None
    assert payload.extra("title") == "A box" and payload.extra("missing") is None


def test_a_sparse_old_payload_round_trips_without_gaining_keys() -> None:
    old = {"path": "a.png", "tags": ["box"], "width": 10, "height": 10}
    payload = Payload.read(old)
    assert payload.stored() == old
    assert payload.shape_version is None and not payload.is_owned and payload.sha256 is None


def test_every_indexed_field_the_tenant_and_owned_are_declared_keys() -> None:
    stored_names = {f.alias or name for name, f in Payload.model_fields.items()}
    assert set(PAYLOAD_INDEXES) | {TENANT_FIELD, OWNED_FIELD} <= stored_names


@pytest.mark.parametrize(
    ("stored", "check"),
    [
        ({"owned": "true"}, lambda p: not p.is_owned),
        ({"owned": 1}, lambda p: not p.is_owned),
        ({"width": "wide", "height": 5}, lambda p: p.width is None and p.height == 5),
        ({"tags": None}, lambda p: p.tags == []),
        ({"source": 5, "path": "a.png"}, lambda p: p.source is None and p.path == "a.png"),
    ],
)
def test_a_wrong_typed_stored_value_reads_as_absent(stored: dict[str, Any], check: Any) -> None:
    assert check(Payload.read(stored))


def test_a_description_never_sets_computed_keys_or_owned(caplog: pytest.LogCaptureFixture) -> None:
    computed = Payload(path="a.png", tags=["box"], library="default", bytes=3)
    description = {"source": "manifest", "path": "/etc/passwd", "library": "x", "owned": True, "license": "cc0"}
    with caplog.at_level(logging.WARNING):
        stored = Payload.described(computed, description, where="a.png").stored()
    assert stored == {
        "path": "a.png",
        "tags": ["box"],
        "library": "default",
        "bytes": 3,
        "source": "manifest",
        "license": "cc0",
    }
    assert "['library', 'owned', 'path'] (reserved)" in caplog.text


def test_a_described_value_of_the_wrong_type_is_dropped_not_stored(caplog: pytest.LogCaptureFixture) -> None:
    computed = Payload(path="a.png")
    with caplog.at_level(logging.WARNING):
        stored = Payload.described(computed, {"source": 5, "caption": "a box", "rank": 5}, "a.png", "run").stored()
    assert stored == {"path": "a.png", "caption": "a box", "rank": 5, "source": "run"}
    assert "['source'] (wrong type)" in caplog.text
