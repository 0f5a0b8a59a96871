"""The same store cases on both backends: qdrant-edge (embedded) and qdrant-client."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

from app.errors import ModelMismatchError
from app.storage.schema import CollectionSchema
from app.storage.types import Filter, HasId, MatchAny, PointRecord, Range, Sparse, ViewQuery

SPACE = {
    "model": "m",
    "pretrained": "p",
    "image_dim": 8,
    "text_model": "clip",
    "text_dim": 8,
    "edge": {"version": "v1"},
}
SCHEMA = CollectionSchema(image_dim=8, text_dim=8, space=SPACE)


def _unit(rng: np.random.Generator, n: int = 8) -> list[float]:
    v = rng.normal(size=n)
    return (v / np.linalg.norm(v)).tolist()


def _points(n: int = 30) -> list[PointRecord]:
    rng = np.random.default_rng(0)
    points = []
    for i in range(n):
        vectors: dict[str, Any] = {"image": _unit(rng), "edge": _unit(rng), "tags": Sparse([i % 3, 10], [1.0, 1.0])}
        if i % 4:  # every fourth point has no `text` vector, as an untagged image would
            vectors["text"] = _unit(rng)
        points.append(
            PointRecord(
                id=str(uuid.UUID(int=i + 1)),
                vectors=vectors,
                payload={"tags": ["even" if i % 2 == 0 else "odd", f"t{i % 3}"], "width": 10 * i, "source": "test"},
            )
        )
    return points


@pytest.fixture
def store(store_factory: Any) -> Any:
    s = store_factory()
    s.ensure(SCHEMA, writing=True)
    s.upsert(_points())
    return s


def test_upsert_is_idempotent_and_counted(store: Any) -> None:
    assert store.count() == 30
    store.upsert(_points()[:5])
    assert store.count() == 30


def test_retrieve_returns_asked_points_in_order_with_vectors(store: Any) -> None:
    ids = [str(uuid.UUID(int=5)), str(uuid.UUID(int=999)), str(uuid.UUID(int=2))]
    got = store.retrieve(ids, with_vectors=["image"])
    assert [p.id for p in got] == [ids[0], ids[2]]
    assert set(got[0].vectors) == {"image"}
    assert got[0].vectors["image"].shape == (8,)


def test_each_view_returns_a_points_own_vector_first(store: Any) -> None:
    pts = _points()
    for view in ("image", "edge", "text"):
        p = next(p for p in pts if view in p.vectors)
        hits = store.search(ViewQuery(view, p.vectors[view], 3), exact=True)
        assert hits[0].id == p.id
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)


def test_filters_match_tags_ranges_and_ids(store: Any) -> None:
    assert store.count(Filter(must=(MatchAny("tags", ("even",)),))) == 15
    assert store.count(Filter(must=(MatchAny("tags", ("t0", "t1")),))) == 20
    assert store.count(Filter(must_not=(MatchAny("tags", ("odd",)),))) == 15
    assert store.count(Filter(must=(Range("width", gte=100, lte=150),))) == 6
    ids = (str(uuid.UUID(int=1)), str(uuid.UUID(int=2)))
    assert store.count(Filter(must=(HasId(ids),))) == 2


def test_sparse_tags_use_idf(store: Any) -> None:
    # term 10 is in every point (idf ~0), term 0 in a third: points with term 0 win.
    hits = store.search(ViewQuery("tags", Sparse([0, 10], [1.0, 1.0]), 30))
    top = {h.id for h in hits[:10]}
    assert top == {str(uuid.UUID(int=i + 1)) for i in range(30) if i % 3 == 0}


def test_fused_query_weights_views_and_sees_only_prefetched_points(store: Any) -> None:
    pts = _points()
    target = pts[7]
    queries = [ViewQuery("image", target.vectors["image"], 5), ViewQuery("edge", target.vectors["edge"], 5)]
    hits = store.fused_query(queries, [0.5, 0.5], None, 20, with_vectors=True)
    assert hits[0].id == target.id
    assert len(hits) <= 10
    assert "image" in hits[0].vectors


def test_both_backends_agree_on_fused_ranking(store_factory: Any, tmp_path: Any) -> None:
    # Run on this backend, compare with a numpy reimplementation of DBSF + weighted sum.
    s = store_factory("agree")
    s.ensure(SCHEMA, writing=True)
    pts = _points()
    s.upsert(pts)
    q = {"image": np.asarray(pts[3].vectors["image"]), "edge": np.asarray(pts[11].vectors["edge"])}
    hits = s.fused_query([ViewQuery(v, q[v].tolist(), 8) for v in q], [0.7, 0.3], None, 30)
    expected: dict[str, float] = {}
    for w, view in zip([0.7, 0.3], q, strict=True):
        scores = sorted(((float(np.dot(q[view], p.vectors[view])), p.id) for p in pts), reverse=True)[:8]
        vals = np.array([s_ for s_, _ in scores])
        mu, sd = vals.mean(), vals.std()
        lo, hi = mu - 3 * sd, mu + 3 * sd
        for score, pid in scores:
            expected[pid] = expected.get(pid, 0.0) + w * (score - lo) / (hi - lo)
    want = sorted(expected, key=lambda k: -expected[k])
    assert [h.id for h in hits][:5] == want[:5]


def test_another_embedding_space_is_refused(store_factory: Any) -> None:
    s = store_factory("space")
    s.ensure(SCHEMA, writing=True)
    other = CollectionSchema(image_dim=8, text_dim=8, space={**SPACE, "model": "other"})
    with pytest.raises(ModelMismatchError, match="other"):
        s.ensure(other, writing=False)
    newer_edges = CollectionSchema(image_dim=8, text_dim=8, space={**SPACE, "edge": {"version": "v2"}})
    s.ensure(newer_edges, writing=False)  # readers may use older edge maps
    with pytest.raises(ModelMismatchError, match="backfill"):
        s.ensure(newer_edges, writing=True)


def test_update_vectors_keeps_other_views(store: Any) -> None:
    pid = str(uuid.UUID(int=1))  # i=0: no text vector
    assert "text" not in store.retrieve([pid], with_vectors=True)[0].vectors
    store.update_vectors([PointRecord(id=pid, vectors={"text": [1.0] + [0.0] * 7}, payload={})])
    got = store.retrieve([pid], with_vectors=True)[0]
    assert set(got.vectors) == {"image", "edge", "text"}


def test_scroll_pages_cover_everything_once(store: Any) -> None:
    seen: list[str] = []
    offset = None
    while True:
        page, offset = store.scroll(limit=7, offset=offset)
        seen += [p.id for p in page]
        if offset is None:
            break
    assert len(seen) == 30 == len(set(seen))


def test_delete_removes_points(store: Any) -> None:
    store.delete([str(uuid.UUID(int=1))])
    assert store.count() == 29


def test_hnsw_recall_against_exact_search_after_optimize(tmp_path: Any) -> None:
    """After optimize() the embedded engine answers from HNSW; with the service's hnsw_ef its
    top-10 must match exact search. Low-rank vectors + noise behave like real embeddings."""
    from app.config import Settings
    from app.storage.edge import EdgeStore

    rng = np.random.default_rng(1)
    dim, n = 64, 3000
    basis = rng.normal(size=(12, dim))
    data = rng.normal(size=(n, 12)) @ basis + 0.3 * rng.normal(size=(n, dim))
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    schema = CollectionSchema(dim, dim, {**SPACE, "image_dim": dim, "text_dim": dim})
    store = EdgeStore(tmp_path / "hnsw", "c", indexing_threshold_kb=1)
    store.ensure(schema, writing=True)
    store.upsert([PointRecord(str(uuid.UUID(int=i + 1)), {"image": data[i].tolist()}, {}) for i in range(n)])
    store.optimize()
    ef = Settings(_env_file=None).HNSW_EF  # type: ignore[call-arg]
    recalls = []
    for qi in rng.choice(n, 20, replace=False):
        q = (data[qi] + 0.2 * rng.normal(size=dim)).tolist()
        exact = {h.id for h in store.search(ViewQuery("image", q, 10), exact=True)}
        approx = {h.id for h in store.search(ViewQuery("image", q, 10), hnsw_ef=ef)}
        recalls.append(len(exact & approx) / 10)
    store.close()
    assert float(np.mean(recalls)) >= 0.95
