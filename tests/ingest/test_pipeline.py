"""Ingestion: counts, resume, failures, model mismatch — on the tiny random-weight model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.embedding import Encoders
from app.errors import ModelMismatchError
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import read_manifest, scan_folder
from app.storage.edge import EdgeStore
from app.storage.schema import CollectionSchema
from app.storage.types import ViewQuery


class CountingEncoders:
    """Counts image-tower forwards by wrapping the real model (it still computes)."""

    def __init__(self, encoders: Encoders, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = encoders.clip.encode_preprocessed

        def counted(batch: Any) -> np.ndarray:
            self.calls += len(batch)
            return real(batch)

        monkeypatch.setattr(encoders.clip, "encode_preprocessed", counted)


def _ingest(encoders: Encoders, store: Any, items: list[Any], root: Path, **kw: Any) -> Any:
    opts = IngestOptions(images_root=root, clip_batch=16, upsert_batch=16, workers=2, **kw)
    return Ingestor(encoders, store, opts).run(items)


def test_folder_ingest_counts_and_reports_the_corrupt_file(
    encoders: Encoders, store_factory: Any, image_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (image_folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (image_folder / "truncated.jpg").write_bytes((image_folder / "circle" / "img_000.png").read_bytes()[:200])
    store = store_factory()
    counter = CountingEncoders(encoders, monkeypatch)
    report = _ingest(encoders, store, list(scan_folder(image_folder)), image_folder)
    assert store.count() == 100
    assert report.ingested == 100
    assert sorted(Path(f.path).name for f in report.failures) == ["broken.png", "truncated.jpg"]
    assert all(f.reason for f in report.failures)
    assert counter.calls == 200  # a picture and its edge map per item

    again = _ingest(encoders, store, list(scan_folder(image_folder)), image_folder)
    assert counter.calls == 200, "nothing is re-embedded on a second run"
    assert (again.ingested, again.skipped, store.count()) == (0, 100, 100)


def test_manifest_ingest_stores_payload_vectors_and_self_retrieves(
    encoders: Encoders, store_factory: Any, image_folder: Path
) -> None:
    store = store_factory()
    items = list(read_manifest(image_folder / "manifest.jsonl"))[:20]
    report = _ingest(encoders, store, items, image_folder)
    assert report.ingested == 20
    point = store.retrieve([report.ids[2]], with_vectors=True)[0]
    assert point.payload["path"] == "triangle/img_002.png"
    assert point.payload["tags"] == ["triangle", "pointy"]
    assert {"sha256", "width", "height", "library", "source"} <= set(point.payload)
    assert set(point.vectors) == {"image", "edge", "text"}
    for view in ("image", "edge", "text"):
        norm = float(np.linalg.norm(point.vectors[view]))
        assert norm == pytest.approx(1.0, abs=1e-3)
        hits = store.search(ViewQuery(view, point.vectors[view].tolist(), 10), exact=True)
        # Items with the same tags share a text vector: the point must be among the ties.
        top = {h.id for h in hits if h.score >= hits[0].score - 1e-5}
        assert point.id in top, f"{view}: a point's own vector must find it first"
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)


def test_same_content_twice_in_one_run_is_stored_once(
    encoders: Encoders, store_factory: Any, image_folder: Path
) -> None:
    twin = image_folder / "copy.png"
    twin.write_bytes((image_folder / "circle" / "img_000.png").read_bytes())
    items = [i for i in scan_folder(image_folder) if i.path.name in {"img_000.png", "copy.png"}]
    report = _ingest(encoders, store_factory(), items, image_folder)
    assert (report.ingested, report.skipped) == (1, 1)


def test_items_without_tags_get_no_text_vector(encoders: Encoders, store_factory: Any, tmp_path: Path) -> None:
    from tests.conftest import shape_image

    shape_image(0, 1).save(tmp_path / "a.png")
    store = store_factory()
    report = _ingest(encoders, store, list(scan_folder(tmp_path)), tmp_path)
    point = store.retrieve(report.ids, with_vectors=True)[0]
    assert set(point.vectors) == {"image", "edge"}


def test_another_model_is_refused_before_writing(encoders: Encoders, tmp_path: Path, image_folder: Path) -> None:
    store = EdgeStore(tmp_path / "q", "c")
    space = {**encoders.space(), "model": "ViT-L-14"}
    store.ensure(CollectionSchema(encoders.clip.dim, encoders.text.dim, space), writing=True)
    with pytest.raises(ModelMismatchError, match="ViT-L-14"):
        _ingest(encoders, store, list(scan_folder(image_folder))[:2], image_folder)
    assert store.count() == 0
    store.close()


def test_manifest_errors_name_the_line(tmp_path: Path) -> None:
    from app.errors import InvalidInputError

    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"path": "a.png"}) + "\n{oops\n")
    with pytest.raises(InvalidInputError, match="m.jsonl:2"):
        list(read_manifest(m))


def test_embedding_cache_skips_the_model_for_files_seen_before(
    encoders: Encoders, store_factory: Any, image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.embedding.cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "cache.sqlite", encoders.space())
    counter = CountingEncoders(encoders, monkeypatch)
    items = list(scan_folder(image_folder))[:10]
    store = store_factory()
    first = _ingest(encoders, store, items, image_folder, cache=cache, library="a")
    assert counter.calls == 20
    # Another library holding the same files: new points, no model run, the same vectors.
    second = _ingest(encoders, store, items, image_folder, cache=cache, library="b")
    assert counter.calls == 20
    assert second.ingested == 10 and store.count() == 20
    a = store.retrieve(first.ids[:1], with_vectors=True)[0]
    b = store.retrieve(second.ids[:1], with_vectors=True)[0]
    assert a.id != b.id
    for view in ("image", "edge"):
        np.testing.assert_array_equal(a.vectors[view], b.vectors[view])
    # Another embedding space misses the cache.
    other = EmbeddingCache(tmp_path / "cache.sqlite", {**encoders.space(), "model": "other"})
    assert other.get_many([a.payload["sha256"]]) == {}
    cache.close()
    other.close()
