"""Cross-modal RAG retrieval: per-sub-query scores, then a Pareto-optimal complementary set.

    prompt ─ decompose ─▶ sub-queries q₁…qₘ ─ encode each once ─▶ (image, text, tags) vectors
        ─▶ ONE Qdrant query: a prefetch per (sub-query, view), fused only to pool candidates
        ─▶ exact scores: every candidate × every sub-query × every view
             dense `image`/`text`: cosine with the stored vectors, calibrated per (sub-query,
               view) by the distribution of its own top-`pool` scores (DBSF, app/search/rerank.py)
             sparse `tags`: Qdrant's IDF-weighted score restricted to the candidate ids (one
               small `search` per sub-query: Qdrant keeps the IDF statistics, so it computes
               them), divided by the best candidate's — 0 means no shared term
             sᵢⱼ = Σ_views wᵥ · calibratedᵥ  ∈ [0, 1]
        ─▶ Pareto frontier of the rows sᵢ, then ≤ k of them maximising coverage
           (app/search/pareto.py: exact for small k, greedy otherwise)

The fused query's own scores are not used: it only gathers the union of every prefetch's
candidates (with their vectors) in one round trip. The store interface has no batch
search, so the sparse re-scoring is m more requests, each restricted to the pool by id.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np

from app.config import Settings
from app.embedding import Encoders
from app.errors import InvalidInputError
from app.search.cards import ImageCard
from app.search.complementary_models import (
    ComplementaryQuery,
    ComplementaryRef,
    ComplementaryResult,
    CoverageMatrix,
    SubQueryCoverage,
    SubQueryModel,
)
from app.search.decompose import Decomposer, SubQuery
from app.search.encoder import QueryEncoder, QueryInputs
from app.search.filters import to_store_filter
from app.search.grounding import Part, ground
from app.search.models import Timings
from app.search.pareto import pareto_frontier, select_complementary
from app.search.rerank import calibrate_view, normalize_weights
from app.storage.base import VectorStore
from app.storage.types import Filter, ScoredPoint, Sparse, Vector, ViewQuery

_ID = re.compile(r"^q(\d+)$")


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 2)


@dataclass
class SubQueryScores:
    """What scoring found: the candidates (sorted by id) and their (n × m) score matrix."""

    candidates: list[ScoredPoint]
    scores: np.ndarray
    pool: int


def assign_ids(subs: list[SubQueryModel], max_subqueries: int) -> list[SubQuery]:
    """Validated sub-queries with unique ids (missing ones numbered after the largest qN)."""
    if not subs:
        raise InvalidInputError("`subQueries` is empty: send at least one, or a `prompt`.", field="subQueries")
    if len(subs) > max_subqueries:
        raise InvalidInputError(
            f"`subQueries` has {len(subs)} entries; at most {max_subqueries} (RAG_MAX_SUBQUERIES).",
            field="subQueries",
            limit=max_subqueries,
        )
    given = [s.id for s in subs if s.id]
    dupes = sorted({i for i in given if given.count(i) > 1})
    if dupes:
        raise InvalidInputError(f"`subQueries`: ids must be unique, {dupes} repeat.", field="subQueries")
    if sum(s.weight for s in subs) <= 0:
        raise InvalidInputError("`subQueries`: at least one weight must be > 0.", field="subQueries")
    nxt = max((int(m.group(1)) for i in given if (m := _ID.match(i))), default=0)
    out: list[SubQuery] = []
    for s in subs:
        sid = s.id
        if not sid:
            nxt += 1
            sid = f"q{nxt}"
            while sid in given:
                nxt += 1
                sid = f"q{nxt}"
        out.append(SubQuery(id=sid, text=s.text, kind=s.kind, weight=s.weight))
    return out


def to_model(q: SubQuery) -> SubQueryModel:
    # A decomposed prompt can hold one phrase longer than the model allows (200): clip, don't 500.
    return SubQueryModel(id=q.id, text=q.text.strip()[:200], kind=q.kind, weight=q.weight)


class ComplementarySearcher:
    def __init__(
        self,
        encoders: Encoders,
        store: VectorStore,
        settings: Settings,
        decomposer: Decomposer | None = None,
        encoder: QueryEncoder | None = None,
    ) -> None:
        self.encoders = encoders
        self.encoder = encoder if encoder is not None else QueryEncoder(encoders)
        self.store = store
        self.settings = settings
        self._decomposer = decomposer

    @property
    def decomposer(self) -> Decomposer:
        if self._decomposer is None:
            self._decomposer = Decomposer(self.settings.RAG_SPACY_MODEL, self.settings.RAG_MAX_SUBQUERIES)
        return self._decomposer

    def decompose(self, prompt: str) -> list[SubQuery]:
        return self.decomposer.decompose(prompt)

    def sub_queries(self, q: ComplementaryQuery) -> list[SubQuery]:
        if q.sub_queries is not None:
            return assign_ids(q.sub_queries, self.settings.RAG_MAX_SUBQUERIES)
        if not q.prompt:
            raise InvalidInputError("Send a `prompt` or `subQueries`.", field="prompt")
        subs = self.decompose(q.prompt)
        if not subs:
            raise InvalidInputError(
                f"`prompt`: {q.prompt!r} has no words to search for; send `subQueries` instead.", field="prompt"
            )
        return subs

    # --- scoring ---------------------------------------------------------------------------

    def encode(self, subs: list[SubQuery], views: set[str]) -> list[dict[str, Vector]]:
        """Each sub-query's vector per view, from the service's QueryEncoder: one batched
        forward per text tower for them all."""
        encoded = self.encoder.encode_many([QueryInputs(text=s.text) for s in subs], views)
        out: list[dict[str, Vector]] = []
        for enc in encoded:
            # One text per sub-query: its own vector, not combined with anything.
            row: dict[str, Vector] = {view: vecs[0].tolist() for view, vecs in enc.positives.items() if vecs}
            if enc.sparse is not None and enc.sparse.indices:
                row["tags"] = enc.sparse
            out.append(row)
        return out

    def score(
        self, subs: list[SubQuery], weights: dict[str, float], flt: Filter, limit: int
    ) -> tuple[SubQueryScores, float]:
        """Candidates pooled from every sub-query's prefetches, each scored on every sub-query.
        Returns the scores and when encoding finished (for timings)."""
        vectors = self.encode(subs, set(weights))
        encoded = time.perf_counter()
        pool = max(self.settings.MIN_POOL, self.settings.CANDIDATE_FACTOR * limit)
        prefetch = [ViewQuery(view, vec, pool) for row in vectors for view, vec in row.items()]
        if not prefetch:
            raise InvalidInputError(
                "Nothing to search with: the sub-queries have no words for the views with weight > 0 "
                f"({', '.join(sorted(weights))}).",
                weighted=sorted(weights),
            )
        found = self.store.fused_query(
            prefetch,
            [1.0] * len(prefetch),
            flt,
            limit=pool * len(prefetch),
            hnsw_ef=max(self.settings.HNSW_EF, pool),
        )
        candidates = sorted(found, key=lambda c: c.id)  # the same order on every backend
        scores = np.zeros((len(candidates), len(subs)))
        if not candidates:
            return SubQueryScores(candidates, scores, pool), encoded
        ids = tuple(c.id for c in candidates)
        # Every sub-query's views scored on every candidate by the engine in one batch (ids and
        # scores only; the candidates' vectors stay there).
        asked = [
            (j, view, weight, row[view])
            for j, row in enumerate(vectors)
            for view, weight in weights.items()
            if view in row
        ]
        answers = self.store.score_points(
            [ViewQuery(view, query, 0) for _, view, _, query in asked], [ids] * len(asked)
        )
        for (j, _, weight, query), raw in zip(asked, answers, strict=True):
            if isinstance(query, Sparse):
                values = np.array([raw.get(i, 0.0) for i in ids])
                top = float(values.max()) if values.size else 0.0
                calibrated = values / top if top > 0 else np.zeros(len(ids))
            else:
                dense = np.array([raw.get(i, np.nan) for i in ids])
                calibrated = calibrate_view(dense, pool).calibrated
            scores[:, j] += weight * calibrated
        return SubQueryScores(candidates, np.clip(scores, 0.0, 1.0), pool), encoded

    # --- the request -----------------------------------------------------------------------

    def search(self, q: ComplementaryQuery, scope: Filter | None = None) -> ComplementaryResult:
        """`scope`: the libraries the caller may read (app/library/access.py); None: all."""
        started = time.perf_counter()
        subs = self.sub_queries(q)
        try:
            weights = normalize_weights({"image": q.w_img, "text": q.w_txt, "tags": q.w_tags})
        except ValueError as e:
            raise InvalidInputError(f"`wImg`/`wTxt`/`wTags`: {e}.") from e
        flt = to_store_filter(q.filter).and_(scope)
        scored, encoded = self.score(subs, weights, flt, q.limit)
        searched = time.perf_counter()

        s = scored.scores
        sub_weights = [x.weight for x in subs]
        if len(scored.candidates):
            frontier = pareto_frontier(s)
            try:
                selection = select_complementary(
                    s,
                    q.limit,
                    weights=sub_weights,
                    candidates=frontier,
                    method=q.method,
                    max_subsets=self.settings.RAG_EXACT_MAX_SUBSETS,
                )
            except ValueError as e:  # `exact` over too many subsets (RAG_EXACT_MAX_SUBSETS)
                raise InvalidInputError(f"{e} (RAG_EXACT_MAX_SUBSETS).", field="method") from e
            chosen, gains, method = selection.indices, selection.gains, selection.method
        else:
            frontier, chosen, gains, method = [], [], [], "greedy"
        threshold = self.settings.RAG_COVER_THRESHOLD
        coverage_of = [{x.id: round(float(s[i, j]), 6) for j, x in enumerate(subs)} for i in chosen]
        parts = [Part(x.id, x.text, x.kind, x.weight) for x in subs]
        grounded, attribution = ground(
            parts, [(scored.candidates[i].id, cov) for i, cov in zip(chosen, coverage_of, strict=True)]
        )
        refs = [
            self._ref(scored.candidates[i], rank + 1, gain, cov, threshold, g.role, g.weight, g.parts)
            for rank, (i, gain, cov, g) in enumerate(zip(chosen, gains, coverage_of, grounded, strict=True))
        ]
        best = s[chosen].max(axis=0) if chosen else np.zeros(len(subs))
        total_w = float(sum(sub_weights))
        return ComplementaryResult(
            prompt=q.prompt,
            sub_queries=[to_model(x) for x in subs],
            refs=refs,
            matrix=CoverageMatrix(
                rows=[r.id for r in refs],
                columns=[x.id for x in subs],
                values=[[cov[x.id] for x in subs] for cov in coverage_of],
                threshold=threshold,
            ),
            attribution=[
                SubQueryCoverage(
                    sub_query_id=a.sub_query_id,
                    text=a.text,
                    kind=x.kind,
                    ref_id=a.ref_id,
                    score=a.score,
                    covered=a.score >= threshold,
                )
                for a, x in zip(attribution, subs, strict=True)
            ],
            coverage=round(float(np.dot(sub_weights, best)) / total_w, 6),
            covered=int(np.sum(best >= threshold)),
            frontier=len(frontier),
            candidates=len(scored.candidates),
            method=method,
            weights={k: round(v, 6) for k, v in weights.items()},
            timings=Timings(
                encode_ms=_ms(started, encoded),
                search_ms=_ms(encoded, searched),
                rerank_ms=_ms(searched, time.perf_counter()),
                total_ms=_ms(started, time.perf_counter()),
            ),
        )

    @staticmethod
    def _ref(
        c: ScoredPoint,
        rank: int,
        gain: float,
        coverage: dict[str, float],
        threshold: float,
        role: str,
        weight: float,
        attributed: list[str],
    ) -> ComplementaryRef:
        return ComplementaryRef(
            id=c.id,
            rank=rank,
            gain=round(gain, 6),
            coverage=coverage,
            covers=[k for k, v in coverage.items() if v >= threshold],
            attributed=attributed,
            role="style" if role == "style" else "subject",
            weight=weight,
            **ImageCard.from_payload(c.id, c.payload).fields(),
        )
