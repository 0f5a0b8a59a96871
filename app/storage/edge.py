"""Embedded backend: qdrant-edge, Qdrant's own engine in-process, on local disk.

The shard lives in `QDRANT_PATH/<collection>/`; what Qdrant's collection metadata would
hold (the embedding space, vector sizes) sits beside it in `<collection>.clippy.json`.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from app.errors import StoreLockedError
from app.storage.base import VectorStore
from app.storage.schema import PAYLOAD_INDEXES, CollectionSchema
from app.storage.types import (
    Condition,
    Filter,
    HasId,
    MatchAny,
    PointRecord,
    Range,
    RankedList,
    ScoredPoint,
    Sparse,
    StoredPoint,
    Vector,
    VectorStorage,
    ViewQuery,
    dense_vectors,
    vector_selection,
)

log = logging.getLogger(__name__)


def _condition(c: Condition) -> Any:
    match c:
        case MatchAny(key=key, values=values):
            if len(values) == 1:
                return qe.FieldCondition(key=key, match=qe.MatchValue(values[0]))
            return qe.FieldCondition(key=key, match=qe.MatchAny(any=list(values)))  # type: ignore[arg-type]
        case Range(key=key, gte=gte, lte=lte):
            return qe.FieldCondition(key=key, range=qe.RangeFloat(gte=gte, lte=lte))
        case HasId(ids=ids):
            return qe.HasIdCondition(point_ids=set(ids))
        case _:
            raise ValueError(f"Unknown filter condition: {c!r}")


def _filter(flt: Filter | None) -> qe.Filter | None:
    if not flt:
        return None
    return qe.Filter(
        must=[_condition(c) for c in flt.must] or None,
        must_not=[_condition(c) for c in flt.must_not] or None,
    )


class _Names:
    """Point ids as strings. The engine builds a `uuid.UUID` on each `.id` read, and str() on
    it costs more than scoring the point: read each id once, name each point once."""

    def __init__(self) -> None:
        self._names: dict[Any, str] = {}

    def __call__(self, point: Any) -> str:
        pid = point.id
        name = self._names.get(pid)
        if name is None:
            name = self._names[pid] = str(pid)
        return name


class _HasIdFilters:
    """A has_id filter per id list, built once for a list that several queries share."""

    def __init__(self) -> None:
        self._built: dict[int, Any] = {}

    def __call__(self, ids: Sequence[str]) -> Any:
        key = id(ids)
        if key not in self._built:
            self._built[key] = _filter(Filter(must=(HasId(tuple(ids)),)))
        return self._built[key]


def _vector(v: Vector) -> Any:
    return qe.SparseVector(indices=v.indices, values=v.values) if isinstance(v, Sparse) else v


class EdgeStore(VectorStore):
    def __init__(
        self,
        path: Path,
        collection: str,
        indexing_threshold_kb: int | None = None,
        vectors: VectorStorage | None = None,
    ) -> None:
        self.collection = collection
        self.indexing_threshold_kb = indexing_threshold_kb
        self.vectors = vectors or VectorStorage()
        self.root = Path(path)
        self.shard_path = self.root / collection
        self.meta_path = self.root / f"{collection}.clippy.json"
        self._shard: qe.EdgeShard | None = None
        self._lock = self._lock_folder()
        if self.shard_path.exists() and any(self.shard_path.iterdir()):
            try:
                self._shard = self._open(lambda: qe.EdgeShard.load(str(self.shard_path)))
            except BaseException:
                self.close()
                raise

    def _locked(self) -> StoreLockedError:
        return StoreLockedError(
            f"The embedded store {str(self.shard_path)!r} is open in another process "
            f"(one writer per folder). Stop that process, or run a Qdrant server and set "
            f"QDRANT_URL so several processes can share the collection.",
            path=str(self.shard_path),
        )

    def _lock_folder(self) -> int:
        """Hold `.<collection>.lock` for as long as the store is open: one process per collection,
        taken before the shard is opened or created, so two starting processes cannot both create it."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / f".{self.collection}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            os.close(fd)
            raise self._locked() from e
        return fd

    def _open(self, opener: Any) -> qe.EdgeShard:
        try:
            shard = opener()
        except Exception as e:
            if "WAL" in str(e) or "WouldBlock" in str(e) or "lock" in str(e).lower():
                raise self._locked() from e
            raise
        assert isinstance(shard, qe.EdgeShard)
        return shard

    @property
    def shard(self) -> qe.EdgeShard:
        if self._shard is None:
            raise RuntimeError(f"collection {self.collection!r} does not exist yet; call ensure()")
        return self._shard

    # --- lifecycle and metadata ---------------------------------------------------------
    def exists(self) -> bool:
        return self._shard is not None

    def create(self, schema: CollectionSchema) -> None:
        config = qe.EdgeConfig(
            vectors={
                name: qe.EdgeVectorParams(
                    size=size,
                    distance=qe.Distance.Cosine,
                    on_disk=self.vectors.on_disk or None,
                    quantization_config=self._quantization(),
                )
                for name, size in schema.dense_sizes.items()
            },
            sparse_vectors={"tags": qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            optimizers=qe.EdgeOptimizersConfig(indexing_threshold=self.indexing_threshold_kb),
            # Below the same size a search scans exactly instead of walking the graph.
            hnsw_config=None
            if self.indexing_threshold_kb is None
            else qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=self.indexing_threshold_kb),
        )
        self.root.mkdir(parents=True, exist_ok=True)
        self._shard = self._open(lambda: qe.EdgeShard.create(str(self.shard_path), config))
        for name, kind in PAYLOAD_INDEXES.items():
            if name == "library":
                params: Any = qe.KeywordIndexParams(is_tenant=True)
            else:
                params = qe.PayloadSchemaType.Keyword if kind == "keyword" else qe.PayloadSchemaType.Integer
            self.shard.update(qe.UpdateOperation.create_field_index(name, params))
        self._write_meta({"space": schema.space, "sizes": schema.dense_sizes})

    def _quantization(self) -> Any:
        if not self.vectors.quantized:
            return None
        return qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, always_ram=True)

    def _params(self, hnsw_ef: int | None = None, exact: bool = False) -> qe.SearchParams:
        """Quantized views: oversample and rescore on the originals (a no-op without quantization)."""
        quantization = (
            qe.QuantizationSearchParams(rescore=True, oversampling=self.vectors.oversampling)
            if self.vectors.quantized
            else None
        )
        return qe.SearchParams(hnsw_ef=hnsw_ef, exact=exact, quantization=quantization)

    def _read_meta(self) -> dict[str, Any]:
        if not self.meta_path.exists():
            return {}
        data = json.loads(self.meta_path.read_text())
        assert isinstance(data, dict)
        return data

    def _write_meta(self, meta: dict[str, Any]) -> None:
        tmp = self.meta_path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
        os.replace(tmp, self.meta_path)  # atomic: a crash leaves the old or the new file

    def space(self) -> dict[str, Any] | None:
        if not self.exists():
            return None
        space = self._read_meta().get("space")
        return space if isinstance(space, dict) else None

    def set_space(self, space: dict[str, Any]) -> None:
        self._write_meta({**self._read_meta(), "space": space})

    def vector_sizes(self) -> dict[str, int]:
        sizes = self._read_meta().get("sizes", {})
        return {str(k): int(v) for k, v in sizes.items()}

    def add_dense_vector(self, name: str, size: int) -> None:
        self.shard.update(qe.UpdateOperation.create_dense_vector(name, size, qe.Distance.Cosine))
        meta = self._read_meta()
        self._write_meta({**meta, "sizes": {**meta.get("sizes", {}), name: size}})

    def optimize(self) -> None:
        self.shard.optimize()

    def close(self) -> None:
        if self._shard is not None:
            self._shard.flush()
            self._shard.close()
            self._shard = None
        if self._lock >= 0:
            os.close(self._lock)  # releases the flock
            self._lock = -1

    # --- writes -------------------------------------------------------------------------
    def upsert(self, points: Sequence[PointRecord]) -> None:
        if not points:
            return
        self.shard.update(
            qe.UpdateOperation.upsert_points(
                [
                    qe.Point(id=p.id, vector={k: _vector(v) for k, v in p.vectors.items()}, payload=p.payload)
                    for p in points
                ]
            )
        )

    def update_vectors(self, points: Sequence[PointRecord]) -> None:
        if not points:
            return
        self.shard.update(
            qe.UpdateOperation.update_vectors(
                [qe.PointVectors(id=p.id, vector={k: _vector(v) for k, v in p.vectors.items()}) for p in points]
            )
        )

    def set_payload(self, ids: Sequence[str], payload: dict[str, Any]) -> None:
        self.shard.update(qe.UpdateOperation.set_payload(list(ids), payload))  # type: ignore[arg-type]

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.shard.update(qe.UpdateOperation.delete_points(list(ids)))  # type: ignore[arg-type]

    # --- reads --------------------------------------------------------------------------
    def retrieve(self, ids: Sequence[str], with_vectors: bool | Sequence[str] = False) -> list[StoredPoint]:
        if not ids or not self.exists():
            return []
        records = self.shard.retrieve(list(ids), True, vector_selection(with_vectors))  # type: ignore[arg-type]
        by_id = {
            str(r.id): StoredPoint(id=str(r.id), payload=r.payload or {}, vectors=dense_vectors(r.vector))
            for r in records
        }
        return [by_id[i] for i in ids if i in by_id]

    def count(self, flt: Filter | None = None) -> int:
        if not self.exists():
            return 0
        return self.shard.count(qe.CountRequest(exact=True, filter=_filter(flt)))

    def scroll(
        self,
        flt: Filter | None = None,
        limit: int = 100,
        offset: str | None = None,
        with_vectors: bool | Sequence[str] = False,
    ) -> tuple[list[StoredPoint], str | None]:
        records, nxt = self.shard.scroll(
            qe.ScrollRequest(
                offset=offset,
                limit=limit,
                filter=_filter(flt),
                with_payload=True,
                with_vector=vector_selection(with_vectors),
            )
        )
        points = [StoredPoint(id=str(r.id), payload=r.payload or {}, vectors=dense_vectors(r.vector)) for r in records]
        return points, (str(nxt) if nxt is not None else None)

    def _nearest(self, q: ViewQuery) -> Any:
        return qe.Query.Nearest(_vector(q.vector), using=q.view)

    @staticmethod
    def _scored(points: list[Any]) -> list[ScoredPoint]:
        return [
            ScoredPoint(id=str(p.id), score=float(p.score), payload=p.payload or {}, vectors=dense_vectors(p.vector))
            for p in points
        ]

    def search(
        self, query: ViewQuery, flt: Filter | None = None, *, hnsw_ef: int | None = None, exact: bool = False
    ) -> list[ScoredPoint]:
        return self._scored(
            self.shard.query(
                qe.QueryRequest(
                    limit=query.limit,
                    query=self._nearest(query),
                    filter=_filter(flt),
                    params=self._params(hnsw_ef, exact),
                    with_payload=True,
                )
            )
        )

    def search_batch(
        self, queries: Sequence[ViewQuery], flt: Filter | None = None, *, hnsw_ef: int | None = None
    ) -> list[list[ScoredPoint]]:
        if not queries:
            return []
        return [self._scored(r) for r in self._query_batch(queries, flt, hnsw_ef)]

    def ranked_lists(
        self, queries: Sequence[ViewQuery], flt: Filter | None = None, *, hnsw_ef: int | None = None
    ) -> list[RankedList]:
        if not queries:
            return []
        name = _Names()
        out = []
        for points in self._query_batch(queries, flt, hnsw_ef):
            ids = [name(p) for p in points]
            out.append(RankedList(ids, np.array([p.score for p in points], dtype=np.float64)))
        return out

    def _query_batch(self, queries: Sequence[ViewQuery], flt: Filter | None, hnsw_ef: int | None) -> list[list[Any]]:
        """One engine call: a nearest-neighbour search per query, ids and scores only."""
        qf, params = _filter(flt), self._params(hnsw_ef)
        requests = [
            qe.QueryRequest(limit=q.limit, query=self._nearest(q), filter=qf, params=params, with_payload=False)
            for q in queries
        ]
        answers: list[list[Any]] = self.shard.query_batch(qe.QueryBatchRequest(requests))
        return answers

    def score_points(self, queries: Sequence[ViewQuery], ids: Sequence[Sequence[str]]) -> list[dict[str, float]]:
        asked = [(q, pids) for q, pids in zip(queries, ids, strict=True) if pids]
        only = _HasIdFilters()
        # Exact, and on the original vectors even where the view is quantized.
        exact = qe.SearchParams(exact=True, quantization=qe.QuantizationSearchParams(ignore=True))
        requests = [
            qe.QueryRequest(
                limit=len(pids),
                query=self._nearest(q),
                filter=only(pids),
                params=exact,
                with_payload=False,
                with_vector=False,
            )
            for q, pids in asked
        ]
        answers = iter(self.shard.query_batch(qe.QueryBatchRequest(requests)) if requests else [])
        name = _Names()
        return [{name(p): p.score for p in next(answers)} if pids else {} for pids in ids]

    def fused_query(
        self,
        queries: Sequence[ViewQuery],
        weights: Sequence[float],
        flt: Filter | None,
        limit: int,
        *,
        hnsw_ef: int | None = None,
        with_vectors: bool = False,
        with_payload: bool = True,
    ) -> list[ScoredPoint]:
        qf = _filter(flt)
        params = self._params(hnsw_ef)
        prefetches = [
            # DBSF over one list = that view's scores normalised by their own distribution.
            qe.Prefetch(
                limit=q.limit,
                prefetches=[qe.Prefetch(limit=q.limit, query=self._nearest(q), filter=qf, params=params)],
                query=qe.Fusion.Dbsf(),  # type: ignore[arg-type]  # the stub omits nested classes
            )
            for q in queries
        ]
        terms = [
            qe.Expression.Mult([qe.Expression.Constant(float(w)), qe.Expression.Variable(f"$score[{i}]")])
            for i, w in enumerate(weights)
        ]
        formula = qe.Formula(qe.Expression.Sum(terms), defaults={f"$score[{i}]": 0.0 for i in range(len(queries))})
        return self._scored(
            self.shard.query(
                qe.QueryRequest(
                    limit=limit,
                    prefetches=prefetches,
                    query=formula,
                    with_payload=with_payload,
                    with_vector=with_vectors,
                )
            )
        )
