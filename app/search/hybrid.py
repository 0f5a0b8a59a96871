"""The hybrid query: each input encoded once (app/search/encoder.py), one fused Qdrant query,
exact re-rank.

Inputs reach views as QueryEncoder routes them (docs/concepts.md, "How a query is routed"); here
positiveIds / negativeIds add their stored vectors to the positives / negatives of every
dense view, and `negativeText` pushes away only in views that have a positive input too.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.config import Settings
from app.embedding import Encoders
from app.embedding.shape import ShapeDescriptor
from app.errors import InvalidInputError, NotFoundError
from app.search.cards import ImageCard
from app.search.cursor import Cursor
from app.search.defaults import SearchDefaults, load_table, query_kind, views_without_signal
from app.search.encoder import CollectionShape, EncodedQuery, QueryEncoder, QueryInputs
from app.search.filters import to_store_filter
from app.search.models import Hit, HitPayload, HybridQuery, SearchModel, SearchResult, Timings, ViewScore
from app.search.pruning import Ranking, ViewList, prune_and_rank
from app.search.rerank import ViewScores, calibrate_view, dense_scores, normalize_weights, rank, weighted_total
from app.storage.base import VectorStore
from app.storage.types import ALL_VIEWS, DENSE_VIEWS, Filter, HasId, ScoredPoint, Sparse, Vector, ViewQuery

# Re-exported: callers build queries from here (routes, library browse, scripts).
__all__ = ["EncodedQuery", "HybridSearcher", "QueryEncoder", "QueryInputs"]


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 2)


@dataclass
class _Plan:
    """What a query asks for, checked before anything is encoded or searched."""

    cursor: Cursor | None
    consumed: int  # hits already paged past (offset, or the cursor's count)
    weights: dict[str, float]  # the weighted views, normalised
    rerank: bool  # as sent, or the kind's default
    notes: list[str]  # what the defaults decided, for the answer


class HybridSearcher:
    def __init__(
        self,
        encoders: Encoders,
        store: VectorStore,
        settings: Settings,
        encoder: QueryEncoder | None = None,
        defaults: SearchDefaults | None = None,
    ) -> None:
        self.encoders = encoders
        # What a request does not send: the shipped table, with the running model's views
        # without signal (random weights) at 0.
        self.defaults = defaults or SearchDefaults(
            load_table(), views_without_signal(encoders.clip.random_weights, encoders.text is encoders.clip)
        )
        # The service's one query encoder; a composition root may hand the same one to every searcher.
        self.encoder = encoder if encoder is not None else QueryEncoder(encoders, CollectionShape(store))
        self.store = store
        self.settings = settings

    def shape_descriptor(self) -> ShapeDescriptor:
        """The descriptor this searcher's queries get for the `shape` view (the collection's version)."""
        return self.encoder.shape()

    def encode(self, inputs: QueryInputs, views: Collection[str] = ALL_VIEWS) -> EncodedQuery:
        """`inputs` through the searcher's QueryEncoder, for the `views` that will be searched."""
        return self.encoder.encode(inputs, views)

    def _add_examples(
        self, enc: EncodedQuery, positive: list[str], negative: list[str], scope: Filter | None = None
    ) -> None:
        wanted = list(dict.fromkeys(positive + negative))
        if not wanted:
            return
        if scope:  # only examples the caller may read: one outside `scope` is missing like an unknown id
            points, _ = self.store.scroll(
                Filter(must=(HasId(tuple(wanted)),)).and_(scope), limit=len(wanted), with_vectors=list(DENSE_VIEWS)
            )
        else:
            points = self.store.retrieve(wanted, with_vectors=list(DENSE_VIEWS))
        found = {p.id: p for p in points}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise NotFoundError(f"`positiveIds`/`negativeIds`: no library items with ids {missing}.", ids=missing)
        for ids, target in ((positive, enc.positives), (negative, enc.negatives)):
            for pid in ids:
                for view, vec in found[pid].vectors.items():
                    target[view].append(vec)

    def search(self, q: HybridQuery, inputs: QueryInputs, scope: Filter | None = None) -> SearchResult:
        """`inputs` encoded for the weighted views, then `search_encoded`. `scope` restricts
        everything the query touches (hits and example ids) to the libraries the caller may
        read (app/library/access.py); None: no restriction."""
        started = time.perf_counter()
        # Checked before anything is encoded: a refused page costs nothing.
        plan = self._plan(q, query_kind(inputs.sent(), bool(q.positive_ids)))
        enc = self.encoder.encode(inputs, plan.weights.keys())
        return self._search(q, plan, enc, scope, started)

    def search_encoded(self, q: HybridQuery, encoded: EncodedQuery, scope: Filter | None = None) -> SearchResult:
        """The search for a query already encoded (QueryEncoder.encode / encode_many), e.g. an
        evaluation that encodes its queries once in batches and runs them under many weights.
        Views `encoded` has beyond the weighted ones are ignored; `encoded` is not changed.
        Its timings' `encodeMs` counts only the example ids' vectors fetched here."""
        started = time.perf_counter()
        plan = self._plan(q, query_kind(encoded.inputs, bool(q.positive_ids)))
        return self._search(q, plan, encoded.copy(), scope, started)

    def _plan(self, q: HybridQuery, kind: str) -> _Plan:
        cursor = Cursor.decode(q.cursor) if q.cursor else None
        consumed = cursor.consumed if cursor else q.offset
        self._check_depth(q.limit, consumed, "cursor" if cursor else "offset")
        resolved = self.defaults.resolve(kind, q.sent_weights(), q.sent_rerank())
        try:
            weights = normalize_weights(resolved.weights)
        except ValueError as e:
            raise InvalidInputError(f"`wImg`/`wEdge`/`wTxt`/`wShape`/`wTags`: {e}.") from e
        return _Plan(cursor, consumed, weights, resolved.rerank, resolved.notes)

    def _search(
        self, q: HybridQuery, plan: _Plan, enc: EncodedQuery, scope: Filter | None, started: float
    ) -> SearchResult:
        cursor, consumed, weights_in = plan.cursor, plan.consumed, plan.weights
        self._add_examples(enc, q.positive_ids, q.negative_ids, scope)
        vectors = enc.vectors()
        active = [v for v in weights_in if v in vectors]
        if not active:
            raise InvalidInputError(
                "Nothing to search with: the views with weight > 0 "
                f"({', '.join(sorted(weights_in))}) got no input. Send queryText, a sketch, an image "
                "or positiveIds, and give weight to the views they feed.",
                weighted=sorted(weights_in),
            )
        weights = normalize_weights({v: weights_in[v] for v in active})
        encoded = time.perf_counter()

        pool = max(self.settings.MIN_POOL, self.settings.CANDIDATE_FACTOR * (consumed + q.limit))
        flt = to_store_filter(q.filter).and_(scope)
        examples = tuple(dict.fromkeys(q.positive_ids + q.negative_ids))
        if examples:
            flt = flt.and_(Filter(must_not=(HasId(examples),)))
        hnsw_ef = max(self.settings.HNSW_EF, pool)
        # EXACT_SCORES="vectors" keeps the old path for A/B: the candidates' vectors and payloads
        # copied out of the fused query, dot products here.
        copy_out = self.settings.EXACT_SCORES == "vectors"
        if plan.rerank and not copy_out:
            ranked = self._pruned_ranking(q, cursor, vectors, weights, pool, flt, hnsw_ef)
            ids, per_view, totals, candidates = ranked.ids, ranked.views, ranked.totals, ranked.candidates
            fused: dict[str, ScoredPoint] = {}
        else:
            found = self.store.fused_query(
                [ViewQuery(v, vectors[v], pool) for v in active],
                [weights[v] for v in active],
                flt,
                limit=pool * len(active),
                hnsw_ef=hnsw_ef,
                with_vectors=copy_out,
                with_payload=copy_out,
            )
            ids, candidates, fused = [c.id for c in found], len(found), {c.id: c for c in found}
            per_view = self._view_scores(found, vectors, active, engine=not copy_out)
            totals = weighted_total(per_view, weights) if plan.rerank else np.array([c.score for c in found])
        searched = time.perf_counter()

        order = self._order(q, cursor, ids, totals)
        page = order[: q.limit]
        reranked = time.perf_counter()

        payloads = (
            {pid: c.payload for pid, c in fused.items()}
            if copy_out
            else {p.id: p.payload for p in self.store.retrieve([ids[i] for i in page])}
        )
        # A point deleted between the search and this read is not shown.
        hits = [
            self._hit(ids[i], payloads[ids[i]], float(totals[i]), i, per_view, weights)
            for i in page
            if ids[i] in payloads
        ]
        next_cursor = None
        if len(page) == q.limit and len(order) > q.limit:
            last = page[-1]
            next_cursor = Cursor(float(totals[last]), ids[last], consumed + len(page)).encode()
        return SearchResult(
            hits=hits,
            next_cursor=next_cursor,
            weights=weights,
            notes=plan.notes,
            candidates=candidates,
            timings=Timings(
                encode_ms=_ms(started, encoded),
                prepare_ms=enc.prepare_ms,
                search_ms=_ms(encoded, searched),
                rerank_ms=_ms(searched, reranked),
                total_ms=_ms(started, time.perf_counter()),
            ),
            model=SearchModel(name=self.encoders.clip.name, pretrained=self.encoders.clip.pretrained),
        )

    @staticmethod
    def _order(q: HybridQuery, cursor: Cursor | None, ids: list[str], totals: np.ndarray) -> list[int]:
        """Indices of the hits from the page on, best first: `scoreThreshold` applied, the
        offset's or the cursor's hits skipped."""
        order = [i for i in rank(ids, totals) if q.score_threshold is None or totals[i] >= q.score_threshold]
        return [i for i in order if cursor.after(float(totals[i]), ids[i])] if cursor else order[q.offset :]

    def _pruned_ranking(
        self,
        q: HybridQuery,
        cursor: Cursor | None,
        vectors: dict[str, Vector],
        weights: dict[str, float],
        pool: int,
        flt: Filter,
        hnsw_ef: int,
    ) -> Ranking:
        """The exact re-rank over the union of each view's top `pool`, scoring only the
        candidates that can reach the page (app/search/pruning.py)."""
        active = list(weights)
        lists = self.store.ranked_lists([ViewQuery(v, vectors[v], pool) for v in active], flt, hnsw_ef=hnsw_ef)
        views = [
            ViewList(v, ranked, pool, sparse=isinstance(vectors[v], Sparse))
            for v, ranked in zip(active, lists, strict=True)
        ]

        def score(ask: Mapping[str, Sequence[str]]) -> dict[str, Mapping[str, float]]:
            answers = self.store.score_points([ViewQuery(v, vectors[v], 0) for v in ask], list(ask.values()))
            return dict(zip(ask, answers, strict=True))

        consumed = cursor.consumed if cursor else q.offset
        ranked = prune_and_rank(views, weights, self.settings.MIN_POOL, score, need=consumed + q.limit + 1)
        if ranked.pruned and cursor and len(self._order(q, cursor, ranked.ids, ranked.totals)) <= q.limit:
            # Fewer hits after the cursor than the page needs (the library changed under it, or
            # scoreThreshold cut them): a pruned candidate may belong here, so score them all.
            ranked = prune_and_rank(views, weights, self.settings.MIN_POOL, score, need=None)
        return ranked

    def _check_depth(self, limit: int, consumed: int, via: str) -> None:
        """The pool and `hnsw_ef` grow with the page's depth: bound it (MAX_LIMIT, MAX_DEPTH)."""
        if limit > self.settings.MAX_LIMIT:
            raise InvalidInputError(
                f"`limit` is at most {self.settings.MAX_LIMIT} (MAX_LIMIT), got {limit}.",
                field="limit",
                limit=self.settings.MAX_LIMIT,
            )
        if consumed + limit > self.settings.MAX_DEPTH:
            raise InvalidInputError(
                f"`{via}`: pages reach at most {self.settings.MAX_DEPTH} hits deep (MAX_DEPTH), but this "
                f"one would end at {consumed + limit}; narrow the query with `filter` instead.",
                field=via,
                limit=self.settings.MAX_DEPTH,
            )

    def _view_scores(
        self, candidates: list[ScoredPoint], vectors: dict[str, Vector], active: list[str], *, engine: bool = True
    ) -> dict[str, ViewScores]:
        """Per-view raw and calibrated scores. The bounds come from each view's top MIN_POOL
        scores, which every page's pool (≥ MIN_POOL per view) contains: an item scores the
        same on every page, so cursors and offsets compare like with like.

        The raw scores come from the engine (`engine`: one batched search per view restricted
        to the candidate ids, ids and scores only), or, for dense views, as dot products with
        the candidates' vectors, which the caller then fetched with them."""
        depth = self.settings.MIN_POOL
        ids = [c.id for c in candidates]
        asked = [v for v in active if engine or isinstance(vectors[v], Sparse)]
        scored = dict(
            zip(
                asked,
                self.store.score_points([ViewQuery(v, vectors[v], 0) for v in asked], [ids] * len(asked)),
                strict=True,
            )
        )
        out: dict[str, ViewScores] = {}
        for view in active:
            query = vectors[view]
            if isinstance(query, Sparse):  # no shared term: 0, and outside the bounds
                raw = np.array([scored[view].get(i, 0.0) for i in ids])
                out[view] = calibrate_view(raw, depth, matched=raw > 0)
            elif view in scored:  # no vector in this view: NaN, as below
                raw = np.array([scored[view].get(i, np.nan) for i in ids])
                out[view] = calibrate_view(raw, depth)
            else:
                raw = dense_scores(np.asarray(query, dtype=np.float32), [c.vectors.get(view) for c in candidates])
                out[view] = calibrate_view(raw, depth)
        return out

    @staticmethod
    def _hit(
        pid: str,
        payload: dict[str, Any],
        total: float,
        i: int,
        per_view: dict[str, ViewScores],
        weights: dict[str, float],
    ) -> Hit:
        views = {
            name: ViewScore(
                raw=None if np.isnan(s.raw[i]) else round(float(s.raw[i]), 6),
                calibrated=round(float(s.calibrated[i]), 6),
                weight=round(weights[name], 6),
            )
            for name, s in per_view.items()
        }
        card = ImageCard.from_payload(pid, payload)
        return Hit(
            id=pid,
            score=round(total, 6),
            views=views,
            **card.fields(),
            payload=HitPayload.of(card),
        )
