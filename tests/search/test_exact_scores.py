"""The exact re-rank's per-view scores come from the engine (ids and scores, no vectors):
the same hits and scores as copying the candidates' vectors out, and as numpy over the
stored vectors, on both store backends."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from app.search.encoder import EncodedQuery
from app.search.hybrid import HybridSearcher
from app.search.models import HybridQuery
from app.search.rerank import calibrate_view, rank, weighted_total
from app.storage.schema import CollectionSchema
from app.storage.types import PointRecord, Sparse
from tests.support.settings import tiny_settings

DIM = 16
N = 240
POOL = 24  # MIN_POOL: a candidate union much smaller than the library, so views miss candidates
SCHEMA = CollectionSchema(image_dim=DIM, text_dim=DIM, space={"model": "synthetic", "image_dim": DIM})


def _unit(rows: np.ndarray) -> np.ndarray:
    out: np.ndarray = (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)
    return out


def _library() -> tuple[list[PointRecord], dict[str, np.ndarray]]:
    """Points with correlated views (a shared part plus each view's own), every fifth without
    `text` (an untagged picture), tags from a small vocabulary."""
    rng = np.random.default_rng(7)
    common = rng.normal(size=(N, DIM))
    vecs = {v: _unit(common + 1.5 * rng.normal(size=(N, DIM))) for v in ("image", "edge", "text")}
    points = []
    for i in range(N):
        vectors: dict[str, Any] = {v: vecs[v][i].tolist() for v in ("image", "edge")}
        if i % 5:
            vectors["text"] = vecs["text"][i].tolist()
        vectors["tags"] = Sparse([i % 7, 7 + i % 3], [1.0, 1.0])
        tag = "even" if i % 2 == 0 else "odd"
        points.append(
            PointRecord(id=str(uuid.UUID(int=i + 1)), vectors=vectors, payload={"tags": [tag], "path": f"{i}.png"})
        )
    return points, vecs


def _searcher(store: Any, tmp_path: Path, exact_scores: str) -> HybridSearcher:
    settings = tiny_settings(tmp_path, MIN_POOL=POOL, EXACT_SCORES=exact_scores)
    clip = SimpleNamespace(name="synthetic", pretrained="synthetic", random_weights=False)
    encoders: Any = SimpleNamespace(clip=clip, text=SimpleNamespace(name="synthetic-text"))
    return HybridSearcher(encoders, store, settings)


def _encoded(q: dict[str, np.ndarray], sparse: Sparse | None = None) -> EncodedQuery:
    enc = EncodedQuery(sparse=sparse)
    for view, vec in q.items():
        enc.positives[view].append(vec)
    return enc


@pytest.fixture
def library(store_factory: Any) -> tuple[Any, dict[str, np.ndarray]]:
    store = store_factory("exact")
    store.ensure(SCHEMA, writing=True)
    points, vecs = _library()
    store.upsert(points)
    return store, vecs


QUERIES = [
    {"wImg": 0.5, "wEdge": 0.3, "wTxt": 0.2, "wTags": 0.4},
    {"wImg": 0.5, "wEdge": 0.3, "wTxt": 0.2, "wTags": 0.4, "scoreThreshold": 0.3},
    {"wImg": 1, "wEdge": 1, "wTxt": 0, "wTags": 0, "rerank": False},
    {"wImg": 0.2, "wEdge": 0, "wTxt": 1, "wTags": 1, "filter": {"tagsAll": ["even"]}},
    {"wImg": 1, "wEdge": 0.5, "wTxt": 0.5, "wTags": 0, "offset": 10},
]


@pytest.mark.parametrize("query", QUERIES)
def test_engine_scores_rank_as_copied_vectors_do(
    library: tuple[Any, dict[str, np.ndarray]], tmp_path: Path, query: dict[str, Any]
) -> None:
    store, vecs = library
    rng = np.random.default_rng(1)
    q = {v: _unit(vecs[v][3] + 0.5 * rng.normal(size=DIM)) for v in ("image", "edge", "text")}
    sparse = Sparse([3, 8], [1.0, 1.0])
    hq = HybridQuery.model_validate({**query, "limit": 20})
    reads: list[tuple[str, Any]] = []
    for name in ("fused_query", "retrieve", "scroll"):
        real = getattr(store, name)

        def spy(*args: Any, _name: str = name, _real: Any = real, **kwargs: Any) -> Any:
            reads.append((_name, args, kwargs))
            return _real(*args, **kwargs)

        setattr(store, name, spy)
    engine = _searcher(store, tmp_path, "engine").search_encoded(hq, _encoded(q, sparse))
    # Nothing but ids and scores leave the engine for the candidates: no vectors, and payloads
    # only for the page's hits.
    for name, args, kwargs in reads:
        assert not kwargs.get("with_vectors"), name
        assert name != "scroll"
        if name == "retrieve":
            assert len(args[0]) <= hq.limit
    for name in ("fused_query", "retrieve", "scroll"):
        delattr(store, name)
    copied = _searcher(store, tmp_path, "vectors").search_encoded(hq, _encoded(q, sparse))

    assert len(engine.hits) == len(copied.hits)
    assert len(engine.hits) == 20 if hq.score_threshold is None else 3 < len(engine.hits) < 20
    assert [h.id for h in engine.hits] == [h.id for h in copied.hits]
    assert [h.score for h in engine.hits] == pytest.approx([h.score for h in copied.hits], abs=2e-6)
    for a, b in zip(engine.hits, copied.hits, strict=True):
        assert a.views.keys() == b.views.keys()
        assert a.tags == b.tags and a.path == b.path  # the page's payloads, read for the page only
        for view in a.views:
            ra, rb = a.views[view].raw, b.views[view].raw
            assert (ra is None) == (rb is None)
            if ra is not None and rb is not None:
                assert ra == pytest.approx(rb, abs=2e-6)


def test_engine_scores_match_numpy_over_the_stored_vectors(
    library: tuple[Any, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    """The reference: every view's cosines in numpy, the candidate union as each view's top
    prefetch (max(MIN_POOL, CANDIDATE_FACTOR · limit); the store scans exactly at this size),
    each view calibrated on its top MIN_POOL, weighted, ranked."""
    store, vecs = library
    rng = np.random.default_rng(2)
    q = {v: _unit(vecs[v][11] + 0.7 * rng.normal(size=DIM)) for v in ("image", "edge", "text")}
    weights = {"image": 0.5, "edge": 0.3, "text": 0.2}
    hq = HybridQuery.model_validate({"wImg": 0.5, "wEdge": 0.3, "wTxt": 0.2, "wTags": 0, "limit": 15})
    result = _searcher(store, tmp_path, "engine").search_encoded(hq, _encoded(q))

    has_text = np.array([i % 5 != 0 for i in range(N)])
    raw = {v: (vecs[v] @ q[v]).astype(np.float64) for v in weights}
    raw["text"] = np.where(has_text, raw["text"], np.nan)
    prefetch = max(POOL, 4 * 15)
    union = sorted({int(i) for v in weights for i in np.argsort(-np.nan_to_num(raw[v], nan=-9))[:prefetch]})
    assert len(union) < N
    assert result.candidates == len(union)
    views = {v: calibrate_view(raw[v][union], POOL) for v in weights}
    totals = weighted_total(views, weights)
    ids = [str(uuid.UUID(int=i + 1)) for i in union]
    order = rank(ids, totals)[:15]

    assert [h.id for h in result.hits] == [ids[i] for i in order]
    assert [h.score for h in result.hits] == pytest.approx([float(totals[i]) for i in order], abs=1e-5)
    for h, i in zip(result.hits, order, strict=True):
        for v in weights:
            want = views[v].raw[i]
            got = h.views[v].raw
            assert (got is None) == bool(np.isnan(want)), (h.id, v)
            if got is not None:
                assert got == pytest.approx(float(want), abs=1e-5)


def test_score_points_scores_only_the_asked_ids(store_factory: Any) -> None:
    store = store_factory("score")
    store.ensure(SCHEMA, writing=True)
    points, vecs = _library()
    store.upsert(points)
    from app.storage.types import ViewQuery

    asked = [points[i].id for i in (0, 1, 5, 17, 99)] + [str(uuid.UUID(int=10_000))]  # the last: no such point
    q = _unit(np.ones(DIM))
    image, text, tags = store.score_points(
        [ViewQuery("image", q.tolist(), 0), ViewQuery("text", q.tolist(), 0), ViewQuery("tags", Sparse([0], [1.0]), 0)],
        [asked] * 3,
    )
    assert set(image) == set(asked[:-1])
    for i in (0, 1, 5, 17, 99):
        assert image[points[i].id] == pytest.approx(float(vecs["image"][i] @ q), abs=1e-5)
    assert set(text) == {points[i].id for i in (1, 17, 99)}  # 0 and 5 have no `text` vector
    assert set(tags) == {points[0].id}  # only point 0 has term 0 among the asked (i % 7 == 0)
    assert store.score_points([ViewQuery("image", q.tolist(), 0)], [[]]) == [{}]
    # One id list per query.
    image, text = store.score_points(
        [ViewQuery("image", q.tolist(), 0), ViewQuery("text", q.tolist(), 0)], [asked[:2], asked[2:4]]
    )
    assert set(image) == set(asked[:2]) and set(text) == {points[17].id}


@pytest.mark.parametrize("backend", ["edge", "client"])
def test_quantized_views_keep_exact_rerank_scores(backend: str, tmp_path: Path) -> None:
    """QUANTIZATION=int8 with the originals on disk: searches rescore on the originals, and
    the re-rank's per-view scores are the originals' cosines (numpy over the stored vectors)."""
    from app.storage.edge import EdgeStore
    from app.storage.remote import RemoteStore, connect
    from app.storage.types import VectorStorage, ViewQuery

    vectors = VectorStorage("int8", on_disk=True, oversampling=2.0)
    store: Any = (
        EdgeStore(tmp_path / "q", "quant", vectors=vectors)
        if backend == "edge"
        else RemoteStore(connect(f"local:{tmp_path / 'ql'}", None), "quant", vectors=vectors)
    )
    try:
        store.ensure(SCHEMA, writing=True)
        points, vecs = _library()
        store.upsert(points)
        store.optimize()
        q = _unit(vecs["image"][42] + 0.05 * np.ones(DIM))
        hits = store.search(ViewQuery("image", q.tolist(), 5))
        assert hits[0].id == points[42].id
        assert hits[0].score == pytest.approx(float(vecs["image"][42] @ q), abs=1e-5)  # rescored
        ids = [p.id for p in points[:50]]
        (scores,) = store.score_points([ViewQuery("image", q.tolist(), 0)], [ids])
        want = vecs["image"][:50] @ q
        assert [scores[i] for i in ids] == pytest.approx(want.tolist(), abs=1e-5)
        result = _searcher(store, tmp_path, "engine").search_encoded(
            HybridQuery.model_validate({"wImg": 1, "wEdge": 0.5, "wTxt": 0, "wTags": 0, "limit": 10}),
            _encoded({"image": q, "edge": vecs["edge"][42]}),
        )
        assert result.hits[0].id == points[42].id
    finally:
        store.close()
