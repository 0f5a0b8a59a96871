from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from app.embedding import Encoders
from app.ingest.backfill import backfill
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import read_manifest


def test_backfill_fills_only_missing_vectors(encoders: Encoders, store_factory: Any, image_folder: Path) -> None:
    store = store_factory()
    items = list(read_manifest(image_folder / "manifest.jsonl"))[:12]
    report = Ingestor(encoders, store, IngestOptions(images_root=image_folder, upsert_batch=6)).run(items)
    ids = report.ids
    before = {p.id: p.vectors for p in store.retrieve(ids, with_vectors=True)}
    # Simulate points stored without edge/text vectors (e.g. an older pipeline).
    from app.storage.types import PointRecord

    stripped = store.retrieve(ids[:4], with_vectors=True)
    store.delete(ids[:4])
    store.upsert([PointRecord(p.id, {"image": p.vectors["image"].tolist()}, p.payload) for p in stripped])

    calls: list[int] = []
    real = encoders.clip.encode_preprocessed
    encoders.clip.encode_preprocessed = lambda b: (calls.append(len(b)), real(b))[1]  # type: ignore[method-assign]
    try:
        result = backfill(encoders, store, image_folder, "both", page_size=5)
    finally:
        del encoders.clip.encode_preprocessed
    # The shape descriptor comes with each recomputed edge map (no model).
    assert result.updated == {"edge": 4, "text": 4, "shape": 4}
    assert sum(calls) == 4, "only the four stripped points are re-embedded"
    after = {p.id: p.vectors for p in store.retrieve(ids, with_vectors=True)}
    for pid in ids:
        assert set(after[pid]) == {"image", "edge", "text", "shape"}
        for view in ("edge", "text", "shape"):
            np.testing.assert_allclose(after[pid][view], before[pid][view], atol=1e-5)
    assert backfill(encoders, store, image_folder, "both").updated == {"edge": 0, "text": 0, "shape": 0}


def test_the_seed_flags_limit_chunk_and_collect(
    encoders: Encoders, store_factory: Any, image_folder: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    """--manifest limits the work to its pictures, --upsert-batch bounds each write and
    --gc-every collects garbage (scripts/backfill_vectors.py, the seed's command line)."""
    import json

    from app.commands.backfill import manifest_paths
    from app.ingest import backfill as backfill_module
    from app.storage.types import PointRecord

    store = store_factory()
    items = list(read_manifest(image_folder / "manifest.jsonl"))[:8]
    ids = Ingestor(encoders, store, IngestOptions(images_root=image_folder)).run(items).ids
    stripped = store.retrieve(ids, with_vectors=True)
    store.delete(ids)
    store.upsert([PointRecord(p.id, {"image": p.vectors["image"].tolist()}, p.payload) for p in stripped])

    chosen = [json.loads(line) for line in (image_folder / "manifest.jsonl").read_text().splitlines()[:5]]
    manifest = tmp_path / "some.jsonl"
    manifest.write_text("\n".join(json.dumps({"path": str(image_folder / r["path"])}) for r in chosen))
    paths = manifest_paths(manifest, None, image_folder)
    assert paths == {r["path"] for r in chosen}

    writes: list[int] = []
    real_update = store.update_vectors
    monkeypatch.setattr(store, "update_vectors", lambda records: (writes.append(len(records)), real_update(records))[1])
    collected: list[int] = []
    monkeypatch.setattr(backfill_module.gc, "collect", lambda: collected.append(1) or 0)
    report = backfill(encoders, store, image_folder, "edge", page_size=8, paths=paths, upsert_batch=2, gc_every=1)
    assert report.updated["edge"] == 5
    assert writes == [2, 2, 1]
    assert collected, "--gc-every 1 collects after the page"
    by_path = {p.payload["path"]: p for p in store.retrieve(ids, with_vectors=True)}
    for path, point in by_path.items():
        assert ("edge" in point.vectors) == (path in paths), path
