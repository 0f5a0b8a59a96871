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
