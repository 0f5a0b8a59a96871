"""The same hybrid request returns the same ranking on both store backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.embedding import Encoders
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import read_manifest
from app.search.hybrid import HybridSearcher, QueryInputs
from app.search.models import HybridQuery
from app.storage.edge import EdgeStore
from app.storage.remote import RemoteStore, connect
from tests.support.images import shape_image
from tests.support.settings import tiny_settings


@pytest.mark.parametrize(
    "query",
    [
        {"queryText": "circle round", "wImg": 1, "wEdge": 0, "wTxt": 1, "wTags": 1},
        {"queryText": "box", "wImg": 1, "wEdge": 1, "wTxt": 0.5, "wTags": 0, "filter": {"tagsNone": ["noise"]}},
        {"queryText": "pointy", "wTags": 1, "wImg": 0.2, "wEdge": 0, "wTxt": 0, "rerank": False},
        {"wShape": 1, "wEdge": 0.5, "wImg": 0, "wTxt": 0, "wTags": 0},
        {"queryText": "box", "wShape": 1, "wImg": 0, "wEdge": 0, "wTxt": 0, "wTags": 0, "rerank": False},
    ],
)
def test_backends_rank_the_same(
    encoders: Encoders, image_folder: Path, tmp_path: Path, query: dict[str, object]
) -> None:
    settings = tiny_settings(tmp_path)
    items = list(read_manifest(image_folder / "manifest.jsonl"))[:40]
    edge = EdgeStore(tmp_path / "edge", "c")
    remote = RemoteStore(connect(f"local:{tmp_path / 'remote'}", None), "c")
    try:
        results = []
        for store in (edge, remote):
            Ingestor(encoders, store, IngestOptions(images_root=image_folder)).run(items)
            searcher = HybridSearcher(encoders, store, settings)
            q = HybridQuery.model_validate({**query, "limit": 15})
            results.append(searcher.search(q, QueryInputs(text=q.query_text, sketch=shape_image(1, 77))))
        a, b = results
        assert [h.id for h in a.hits] == [h.id for h in b.hits]
        # Scores agree to float32 precision (the engines compute in float32).
        assert [h.score for h in a.hits] == pytest.approx([h.score for h in b.hits], abs=1e-3)
        assert len(a.hits) == 15
    finally:
        edge.close()
        remote.close()
