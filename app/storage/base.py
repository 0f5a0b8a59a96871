"""The store seam: one interface, two backends (qdrant-edge embedded, qdrant-client)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from app.storage.schema import CollectionSchema, check_space, missing_vectors_error
from app.storage.types import Filter, PointRecord, RankedList, ScoredPoint, StoredPoint, ViewQuery

log = logging.getLogger(__name__)


class VectorStore(ABC):
    """A Qdrant collection holding Clippy's schema.

    Backends translate these calls to their client; search and ingestion never import a
    Qdrant client themselves.
    """

    collection: str

    # --- lifecycle and metadata ---------------------------------------------------------
    @abstractmethod
    def exists(self) -> bool: ...

    @abstractmethod
    def create(self, schema: CollectionSchema) -> None: ...

    @abstractmethod
    def space(self) -> dict[str, Any] | None:
        """The embedding space recorded with the collection (None if it does not exist)."""

    @abstractmethod
    def set_space(self, space: dict[str, Any]) -> None: ...

    @abstractmethod
    def vector_sizes(self) -> dict[str, int]: ...

    @abstractmethod
    def add_dense_vector(self, name: str, size: int) -> None:
        """Add an empty cosine named vector to the existing collection (no point has it yet)."""

    def ensure(self, schema: CollectionSchema, *, writing: bool) -> None:
        """Create the collection, or check that it holds this embedding space.

        A collection made before a dense view existed (`shape`) gets that named vector added
        here, empty: its points lack it until `clippy backfill --which shape` fills them, and
        until then a search in that view simply does not find them."""
        if not self.exists():
            self.create(schema)
            return
        stored = self.space()
        if stored is None:
            return
        check_space(self.collection, stored, schema.space, writing=writing)
        have = self.vector_sizes()
        missing = {name: size for name, size in schema.dense_sizes.items() if name not in have}
        if not missing:
            return
        try:
            for name, size in missing.items():
                self.add_dense_vector(name, size)
        except Exception as e:  # e.g. a server without the API: say what to do instead
            raise missing_vectors_error(self.collection, sorted(missing), e) from e
        log.warning(
            "collection %r: added the named vector(s) %s; fill them with `clippy backfill --which %s`",
            self.collection,
            sorted(missing),
            ",".join(sorted(missing)),
        )
        added = {k: schema.space[k] for k in missing if k in schema.space}  # their descriptor records
        if added:
            self.set_space({**stored, **added})

    @abstractmethod
    def optimize(self) -> None:
        """Build indexes (HNSW) after bulk writes; blocking and slow, never in a request."""

    @abstractmethod
    def close(self) -> None: ...

    # --- writes -------------------------------------------------------------------------
    @abstractmethod
    def upsert(self, points: Sequence[PointRecord]) -> None: ...

    @abstractmethod
    def update_vectors(self, points: Sequence[PointRecord]) -> None:
        """Set the given named vectors on existing points, keeping the others."""

    @abstractmethod
    def set_payload(self, ids: Sequence[str], payload: dict[str, Any]) -> None: ...

    @abstractmethod
    def delete(self, ids: Sequence[str]) -> None: ...

    # --- reads --------------------------------------------------------------------------
    @abstractmethod
    def retrieve(self, ids: Sequence[str], with_vectors: bool | Sequence[str] = False) -> list[StoredPoint]:
        """The points that exist among `ids`, in the order asked."""

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        return {p.id for p in self.retrieve(ids)}

    @abstractmethod
    def count(self, flt: Filter | None = None) -> int: ...

    @abstractmethod
    def scroll(
        self,
        flt: Filter | None = None,
        limit: int = 100,
        offset: str | None = None,
        with_vectors: bool | Sequence[str] = False,
    ) -> tuple[list[StoredPoint], str | None]: ...

    @abstractmethod
    def search(
        self, query: ViewQuery, flt: Filter | None = None, *, hnsw_ef: int | None = None, exact: bool = False
    ) -> list[ScoredPoint]:
        """Nearest neighbours in one view."""

    def search_batch(
        self, queries: Sequence[ViewQuery], flt: Filter | None = None, *, hnsw_ef: int | None = None
    ) -> list[list[ScoredPoint]]:
        """Several single-view searches, one result list per query in order. Backends that
        can plan them as one request (qdrant-edge `query_batch`, qdrant-client
        `query_batch_points`) override this; the default asks one at a time."""
        return [self.search(q, flt, hnsw_ef=hnsw_ef) for q in queries]

    def ranked_lists(
        self, queries: Sequence[ViewQuery], flt: Filter | None = None, *, hnsw_ef: int | None = None
    ) -> list[RankedList]:
        """`search_batch` as ids and scores, nothing else (backends override it where building
        ScoredPoints costs)."""
        return [RankedList.of(points) for points in self.search_batch(queries, flt, hnsw_ef=hnsw_ef)]

    def matrix_pairs(
        self, view: str, flt: Filter | None, sample: int, limit: int
    ) -> list[tuple[str, str, float]] | None:
        """The engine's distance matrix: each of `sample` points of `flt` with its `limit`
        nearest others in `view`, as (a, b, score) pairs; None where the engine has no such
        API (callers then batch nearest-neighbour searches)."""
        return None

    @abstractmethod
    def score_points(self, queries: Sequence[ViewQuery], ids: Sequence[Sequence[str]]) -> list[dict[str, float]]:
        """Each query's exact score for each of its `ids` (one id list per query; pass the same
        list object to share it) in its view, ids and scores only: one batched request, a
        search per query restricted to its ids (a has_id filter makes it an exact scan of those
        points). A point without a vector in the view, or (sparse) without a shared term, is
        absent from that query's dict. `ViewQuery.limit` is not used."""

    @abstractmethod
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
        """One Query API request: a prefetch per view (filter inside each), each view's
        scores calibrated by distribution (DBSF over its own list), then Σ wᵢ·scoreᵢ.

        A point missing from a view's prefetch scores 0 for that view: callers that need
        exact weighted scores re-rank (app/search/rerank.py)."""
