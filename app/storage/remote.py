"""Server / cluster backend: qdrant-client against `QDRANT_URL`.

`QDRANT_URL=:memory:` or `local:/some/dir` runs qdrant-client's local mode, which speaks
the same client API as a server: tests use it to exercise this code path without one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from qdrant_client import QdrantClient, models

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


def _condition(c: Condition) -> models.Condition:
    match c:
        case MatchAny(key=key, values=values):
            if len(values) == 1:
                return models.FieldCondition(key=key, match=models.MatchValue(value=values[0]))
            return models.FieldCondition(key=key, match=models.MatchAny(any=list(values)))  # type: ignore[arg-type]
        case Range(key=key, gte=gte, lte=lte):
            return models.FieldCondition(key=key, range=models.Range(gte=gte, lte=lte))
        case HasId(ids=ids):
            return models.HasIdCondition(has_id=list(ids))
        case _:
            raise ValueError(f"Unknown filter condition: {c!r}")


def _filter(flt: Filter | None) -> models.Filter | None:
    if not flt:
        return None
    return models.Filter(
        must=[_condition(c) for c in flt.must] or None,
        must_not=[_condition(c) for c in flt.must_not] or None,
    )


def _vector(v: Vector) -> Any:
    return models.SparseVector(indices=v.indices, values=v.values) if isinstance(v, Sparse) else v


def connect(url: str, api_key: str | None) -> QdrantClient:
    try:
        if url == ":memory:":
            return QdrantClient(location=":memory:")
        if url.startswith("local:"):
            return QdrantClient(path=url.removeprefix("local:"))
        return QdrantClient(url=url, api_key=api_key)
    except RuntimeError as e:  # local mode locks its folder to one client
        raise StoreLockedError(f"QDRANT_URL={url!r} is locked by another process: {e}", url=url) from e


class RemoteStore(VectorStore):
    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        *,
        shards: int | None = None,
        replicas: int | None = None,
        write_consistency: int | None = None,
        vectors: VectorStorage | None = None,
    ) -> None:
        self.client = client
        self.collection = collection
        self.vectors = vectors or VectorStorage()
        # Cluster layout for a collection this store creates (QDRANT_SHARDS / _REPLICAS / _WRITE_CONSISTENCY).
        layout = {"shard_number": shards, "replication_factor": replicas, "write_consistency_factor": write_consistency}
        self.layout: dict[str, int] = {k: v for k, v in layout.items() if v}

    # --- lifecycle and metadata ---------------------------------------------------------
    def exists(self) -> bool:
        return self.client.collection_exists(self.collection)

    def create(self, schema: CollectionSchema) -> None:
        self.client.create_collection(
            self.collection,
            vectors_config={
                name: models.VectorParams(
                    size=size,
                    distance=models.Distance.COSINE,
                    on_disk=self.vectors.on_disk or None,
                    quantization_config=self._quantization(),
                )
                for name, size in schema.dense_sizes.items()
            },
            sparse_vectors_config={"tags": models.SparseVectorParams(modifier=models.Modifier.IDF)},
            metadata={"clippy": {"space": schema.space}},
            **self.layout,  # type: ignore[arg-type]
        )
        for name, kind in PAYLOAD_INDEXES.items():
            schema_type: Any
            if name == "library":
                schema_type = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
            else:
                schema_type = (
                    models.PayloadSchemaType.KEYWORD if kind == "keyword" else models.PayloadSchemaType.INTEGER
                )
            self.client.create_payload_index(self.collection, name, field_schema=schema_type)

    def _quantization(self) -> models.ScalarQuantization | None:
        if not self.vectors.quantized:
            return None
        return models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)
        )

    def _params(self, hnsw_ef: int | None = None, exact: bool = False) -> models.SearchParams:
        """Quantized views: oversample and rescore on the originals (a no-op without quantization)."""
        quantization = (
            models.QuantizationSearchParams(rescore=True, oversampling=self.vectors.oversampling)
            if self.vectors.quantized
            else None
        )
        return models.SearchParams(hnsw_ef=hnsw_ef, exact=exact, quantization=quantization)

    def _metadata(self) -> dict[str, Any]:
        info = self.client.get_collection(self.collection)
        meta = info.config.metadata or {}
        clippy = meta.get("clippy", {})
        return clippy if isinstance(clippy, dict) else {}

    def space(self) -> dict[str, Any] | None:
        if not self.exists():
            return None
        space = self._metadata().get("space")
        return space if isinstance(space, dict) else None

    def set_space(self, space: dict[str, Any]) -> None:
        self.client.update_collection(self.collection, metadata={"clippy": {**self._metadata(), "space": space}})

    def vector_sizes(self) -> dict[str, int]:
        vectors = self.client.get_collection(self.collection).config.params.vectors
        assert isinstance(vectors, dict)
        return {name: int(p.size) for name, p in vectors.items()}

    def add_dense_vector(self, name: str, size: int) -> None:
        self.client.create_vector_name(
            self.collection,
            name,
            models.DenseVectorNameConfig(dense=models.DenseVectorConfig(size=size, distance=models.Distance.COSINE)),
            wait=True,
        )

    def optimize(self) -> None:
        # A server indexes in the background by itself; nothing to trigger from here.
        return None

    def close(self) -> None:
        self.client.close()

    # --- writes -------------------------------------------------------------------------
    def upsert(self, points: Sequence[PointRecord]) -> None:
        if not points:
            return
        self.client.upsert(
            self.collection,
            points=[
                models.PointStruct(id=p.id, vector={k: _vector(v) for k, v in p.vectors.items()}, payload=p.payload)
                for p in points
            ],
            wait=True,
        )

    def update_vectors(self, points: Sequence[PointRecord]) -> None:
        if not points:
            return
        self.client.update_vectors(
            self.collection,
            points=[models.PointVectors(id=p.id, vector={k: _vector(v) for k, v in p.vectors.items()}) for p in points],
            wait=True,
        )

    def set_payload(self, ids: Sequence[str], payload: dict[str, Any]) -> None:
        self.client.set_payload(self.collection, payload=payload, points=list(ids), wait=True)  # type: ignore[arg-type]

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.client.delete(self.collection, points_selector=list(ids), wait=True)  # type: ignore[arg-type]

    # --- reads --------------------------------------------------------------------------
    def retrieve(self, ids: Sequence[str], with_vectors: bool | Sequence[str] = False) -> list[StoredPoint]:
        if not ids or not self.exists():
            return []
        records = self.client.retrieve(
            self.collection, ids=list(ids), with_payload=True, with_vectors=vector_selection(with_vectors)
        )
        by_id = {
            str(r.id): StoredPoint(id=str(r.id), payload=r.payload or {}, vectors=dense_vectors(r.vector))
            for r in records
        }
        return [by_id[i] for i in ids if i in by_id]

    def count(self, flt: Filter | None = None) -> int:
        if not self.exists():
            return 0
        return self.client.count(self.collection, count_filter=_filter(flt), exact=True).count

    def scroll(
        self,
        flt: Filter | None = None,
        limit: int = 100,
        offset: str | None = None,
        with_vectors: bool | Sequence[str] = False,
    ) -> tuple[list[StoredPoint], str | None]:
        records, nxt = self.client.scroll(
            self.collection,
            scroll_filter=_filter(flt),
            limit=limit,
            offset=offset,
            with_payload=True,
            with_vectors=vector_selection(with_vectors),
        )
        points = [StoredPoint(id=str(r.id), payload=r.payload or {}, vectors=dense_vectors(r.vector)) for r in records]
        return points, (str(nxt) if nxt is not None else None)

    @staticmethod
    def _scored(points: list[models.ScoredPoint]) -> list[ScoredPoint]:
        return [
            ScoredPoint(id=str(p.id), score=float(p.score), payload=p.payload or {}, vectors=dense_vectors(p.vector))
            for p in points
        ]

    def search(
        self, query: ViewQuery, flt: Filter | None = None, *, hnsw_ef: int | None = None, exact: bool = False
    ) -> list[ScoredPoint]:
        response = self.client.query_points(
            self.collection,
            query=_vector(query.vector),
            using=query.view,
            query_filter=_filter(flt),
            limit=query.limit,
            search_params=self._params(hnsw_ef, exact),
            with_payload=True,
        )
        return self._scored(response.points)

    def search_batch(
        self, queries: Sequence[ViewQuery], flt: Filter | None = None, *, hnsw_ef: int | None = None
    ) -> list[list[ScoredPoint]]:
        if not queries:
            return []
        qf, params = _filter(flt), self._params(hnsw_ef)
        requests = [
            models.QueryRequest(
                query=_vector(q.vector), using=q.view, filter=qf, limit=q.limit, params=params, with_payload=False
            )
            for q in queries
        ]
        return [self._scored(r.points) for r in self.client.query_batch_points(self.collection, requests)]

    def matrix_pairs(
        self, view: str, flt: Filter | None, sample: int, limit: int
    ) -> list[tuple[str, str, float]] | None:
        # Qdrant's distance-matrix API: one request, the neighbours found inside the engine.
        response = self.client.search_matrix_pairs(
            self.collection, query_filter=_filter(flt), sample=sample, limit=limit, using=view
        )
        return [(str(p.a), str(p.b), float(p.score)) for p in response.pairs]

    def score_points(self, queries: Sequence[ViewQuery], ids: Sequence[Sequence[str]]) -> list[dict[str, float]]:
        asked = [(q, pids) for q, pids in zip(queries, ids, strict=True) if pids]
        if not asked:
            return [{} for _ in ids]
        answers = iter(
            self.client.query_batch_points(
                self.collection,
                requests=[
                    models.QueryRequest(
                        query=_vector(q.vector),
                        using=q.view,
                        filter=_filter(Filter(must=(HasId(tuple(pids)),))),
                        limit=len(pids),
                        # Exact, and on the original vectors even where the view is quantized.
                        params=models.SearchParams(
                            exact=True, quantization=models.QuantizationSearchParams(ignore=True)
                        ),
                        with_payload=False,
                        with_vector=False,
                    )
                    for q, pids in asked
                ],
            )
        )
        return [{str(p.id): float(p.score) for p in next(answers).points} if pids else {} for pids in ids]

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
            models.Prefetch(
                prefetch=[
                    models.Prefetch(query=_vector(q.vector), using=q.view, filter=qf, limit=q.limit, params=params)
                ],
                query=models.FusionQuery(fusion=models.Fusion.DBSF),
                limit=q.limit,
            )
            for q in queries
        ]
        formula = models.FormulaQuery(
            formula=models.SumExpression(
                sum=[models.MultExpression(mult=[float(w), f"$score[{i}]"]) for i, w in enumerate(weights)]
            ),
            defaults={f"$score[{i}]": 0.0 for i in range(len(queries))},
        )
        response = self.client.query_points(
            self.collection,
            prefetch=prefetches,
            query=formula,
            limit=limit,
            with_payload=with_payload,
            with_vectors=with_vectors,
        )
        return self._scored(response.points)
