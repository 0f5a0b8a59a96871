"""The `shape` view in collections: backfill, collections made before it, version checks, cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.embedding import Encoders
from app.embedding.cache import EmbeddingCache
from app.errors import ModelMismatchError
from app.ingest.backfill import backfill
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import read_manifest
from app.storage.schema import CollectionSchema
from app.storage.types import PointRecord, ViewQuery


class ModelCalls:
    def __init__(self, encoders: Encoders, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = encoders.clip.encode_preprocessed

        def counted(batch: Any) -> np.ndarray:
            self.count += len(batch)
            return real(batch)

        monkeypatch.setattr(encoders.clip, "encode_preprocessed", counted)


def _schema(encoders: Encoders, **space: Any) -> CollectionSchema:
    return CollectionSchema(encoders.clip.dim, encoders.text.dim, {**encoders.space(), **space})


def _strip(store: Any, ids: list[str], keep: tuple[str, ...]) -> None:
    """Rewrite points with only the `keep` vectors, as an older pipeline stored them."""
    points = store.retrieve(ids, with_vectors=True)
    store.delete(ids)
    store.upsert([PointRecord(p.id, {k: p.vectors[k].tolist() for k in keep}, p.payload) for p in points])


def test_backfill_which_shape_fills_only_the_missing_descriptors_without_the_model(
    encoders: Encoders, store_factory: Any, image_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_factory()
    items = list(read_manifest(image_folder / "manifest.jsonl"))[:10]
    ids = Ingestor(encoders, store, IngestOptions(images_root=image_folder)).run(items).ids
    before = {p.id: p.vectors["shape"] for p in store.retrieve(ids, with_vectors=["shape"])}
    _strip(store, ids[:3], ("image", "edge", "text"))
    calls = ModelCalls(encoders, monkeypatch)

    report = backfill(encoders, store, image_folder, "shape", page_size=4)
    assert report.updated == {"edge": 0, "text": 0, "shape": 3}
    assert calls.count == 0, "HOG needs no model"
    after = {p.id: p for p in store.retrieve(ids, with_vectors=True)}
    for pid in ids:
        np.testing.assert_allclose(after[pid].vectors["shape"], before[pid], atol=1e-6)
        assert set(after[pid].vectors) == {"image", "edge", "text", "shape"}
    assert backfill(encoders, store, image_folder, "shape").updated["shape"] == 0


def test_a_collection_made_before_the_shape_view_gets_the_vector_added_and_backfilled(
    encoders: Encoders, store_factory: Any, image_folder: Path
) -> None:
    store = store_factory()
    old_space = {k: v for k, v in encoders.space().items() if k != "shape"}
    store.create(CollectionSchema(encoders.clip.dim, encoders.text.dim, old_space))
    assert "shape" not in store.vector_sizes()
    # Points written by the old pipeline: no shape vector, no shape version.
    items = list(read_manifest(image_folder / "manifest.jsonl"))[:6]
    ids = Ingestor(encoders, store, IngestOptions(images_root=image_folder)).run(items).ids
    assert store.vector_sizes()["shape"] == encoders.space()["shape"]["dim"], "ensure() added the vector"
    assert store.space()["shape"] == encoders.space()["shape"]  # type: ignore[index]
    _strip(store, ids, ("image", "edge", "text"))
    probe = store.retrieve(ids[:1], with_vectors=["shape"])[0]
    assert "shape" not in probe.vectors
    assert store.search(ViewQuery("shape", np.ones(576, np.float32).tolist(), 10), exact=True) == []

    assert backfill(encoders, store, image_folder, "shape").updated["shape"] == 6
    hits = store.search(ViewQuery("shape", np.ones(576, np.float32).tolist(), 10), exact=True)
    assert len(hits) == 6


def test_another_shape_version_blocks_writers_and_another_size_blocks_everyone(
    encoders: Encoders, store_factory: Any
) -> None:
    store = store_factory()
    running = encoders.space()["shape"]
    store.ensure(_schema(encoders, shape={**running, "version": "hog-old"}), writing=True)
    with pytest.raises(ModelMismatchError, match="backfill --which shape"):
        store.ensure(_schema(encoders), writing=True)
    store.ensure(_schema(encoders), writing=False)  # readers of the same size may search
    store.close()  # one client per local folder

    other = store_factory("bigger")
    other.ensure(_schema(encoders, shape={**running, "dim": 1764, "version": "hog-8x8"}), writing=True)
    with pytest.raises(ModelMismatchError, match="1764 dims"):
        other.ensure(_schema(encoders), writing=False)


def test_a_cache_hit_from_before_the_shape_view_computes_only_the_descriptor(
    encoders: Encoders, store_factory: Any, image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = EmbeddingCache(tmp_path / "cache.sqlite", encoders.space())
    items = list(read_manifest(image_folder / "manifest.jsonl"))[:5]
    store = store_factory()
    first = Ingestor(encoders, store, IngestOptions(images_root=image_folder, cache=cache, library="a")).run(items)
    shas = [p.payload["sha256"] for p in store.retrieve(first.ids)]
    assert all(hit.shape is not None for hit in cache.get_many(shas).values())
    # Another shape version: the model's vectors still hit, the descriptors miss.
    newer = EmbeddingCache(tmp_path / "cache.sqlite", {**encoders.space(), "shape": {"version": "next"}})
    hits = newer.get_many(shas)
    assert len(hits) == 5 and all(h.shape is None for h in hits.values())
    newer.close()

    calls = ModelCalls(encoders, monkeypatch)
    cache._db.execute("DELETE FROM shapes")  # a cache written before the shape view
    second = Ingestor(encoders, store, IngestOptions(images_root=image_folder, cache=cache, library="b")).run(items)
    assert second.ingested == 5 and calls.count == 0
    a = {p.payload["sha256"]: p.vectors["shape"] for p in store.retrieve(first.ids, with_vectors=["shape"])}
    for p in store.retrieve(second.ids, with_vectors=["shape"]):
        np.testing.assert_allclose(p.vectors["shape"], a[p.payload["sha256"]], atol=1e-6)
    assert all(hit.shape is not None for hit in cache.get_many(shas).values()), "and they are cached now"
    cache.close()


def test_clippy_backfill_which_shape_fills_the_missing_descriptors(
    encoders: Encoders, image_folder: Path, tmp_path: Path
) -> None:
    import json

    from app.storage.edge import EdgeStore
    from tests.support.cli import cli_env, run_python

    store = EdgeStore(tmp_path / "qdrant", "cli")
    items = list(read_manifest(image_folder / "manifest.jsonl"))[:5]
    ids = Ingestor(encoders, store, IngestOptions(images_root=image_folder)).run(items).ids
    _strip(store, ids[:2], ("image", "edge", "text"))
    store.close()
    env = cli_env(tmp_path)
    out = run_python(["-m", "app.commands", "backfill", "--which", "shape", "--images-root", str(image_folder)], env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["updated"] == {"edge": 0, "text": 0, "shape": 2}
    bad = run_python(["-m", "app.commands", "backfill", "--which", "outline"], env)
    assert bad.returncode == 2 and "--which must be one of" in bad.stderr


def test_backfill_rewrites_old_version_descriptors_and_touches_nothing_else(
    encoders: Encoders, store_factory: Any, image_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collection of `hog-5x5-v1` → `clippy backfill --which shape`: every `shape` vector is
    the current version's, the other views are bit for bit what they were, and no model ran."""
    from PIL import Image

    from app.embedding import edge_map
    from app.embedding.shape import DESCRIPTORS, SHAPE, SHAPE_VERSION

    old = DESCRIPTORS["hog-5x5-v1"]
    store = store_factory()
    items = list(read_manifest(image_folder / "manifest.jsonl"))[:6]
    ids = Ingestor(encoders, store, IngestOptions(images_root=image_folder)).run(items).ids
    points = store.retrieve(ids, with_vectors=True)
    paths = {p.id: image_folder / p.payload["path"] for p in points}

    def drawing(pid: str) -> Any:
        with Image.open(paths[pid]) as img:
            return edge_map(img.convert("RGB"))

    store.update_vectors([PointRecord(pid, {"shape": old.describe(drawing(pid)).tolist()}, {}) for pid in ids])
    store.set_payload(ids, {"shape_version": old.version})
    store.set_space({**(store.space() or {}), "shape": old.record()})
    before = {p.id: p for p in store.retrieve(ids, with_vectors=True)}
    with pytest.raises(ModelMismatchError, match="backfill --which shape"):
        store.ensure(_schema(encoders), writing=True)  # ingest refuses to mix versions
    calls = ModelCalls(encoders, monkeypatch)

    report = backfill(encoders, store, image_folder, "shape", page_size=4)
    assert report.updated == {"edge": 0, "text": 0, "shape": 6} and not report.failures
    assert calls.count == 0, "the descriptor needs no model"
    for p in store.retrieve(ids, with_vectors=True):
        np.testing.assert_allclose(p.vectors["shape"], SHAPE.describe(drawing(p.id)), atol=1e-6)
        for view in ("image", "edge", "text"):
            if view in before[p.id].vectors:
                np.testing.assert_array_equal(p.vectors[view], before[p.id].vectors[view])
        assert p.payload["shape_version"] == SHAPE_VERSION
        assert {k: v for k, v in p.payload.items() if k != "shape_version"} == {
            k: v for k, v in before[p.id].payload.items() if k != "shape_version"
        }
    assert (store.space() or {})["shape"] == SHAPE.record()
    store.ensure(_schema(encoders), writing=True)  # writers may proceed
