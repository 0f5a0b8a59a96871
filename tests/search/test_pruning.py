"""Pruning by bounds gives the page scoring the whole candidate union gives, scoring less of
it: checked against the brute-force ranking on seeded random libraries, with offsets, cursors,
score thresholds, sparse views, missing vectors and short lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from app.search.cursor import Cursor
from app.search.pruning import Scorer, ViewList, prune_and_rank
from app.search.rerank import calibrate_view, rank, weighted_total
from app.storage.types import RankedList

N = 400
POOL = 40


def _library(seed: int, n: int = N) -> dict[str, np.ndarray]:
    """Raw scores per view: correlated dense views, `text` missing on every 4th point, a
    sparse `tags` view most points do not match (0)."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=n)
    raw = {v: np.tanh(0.3 * (common + rng.normal(size=n))) for v in ("image", "edge", "text")}
    raw["text"][::4] = np.nan
    tags = rng.exponential(size=n)
    tags[rng.random(n) < 0.7] = 0.0
    raw["tags"] = tags
    return raw


def _lists(raw: Mapping[str, np.ndarray], views: Sequence[str], limit: int) -> dict[str, tuple[list[int], ViewList]]:
    """Each view's exact top `limit` (a sparse view: only points with a shared term)."""
    out = {}
    for v in views:
        scores = raw[v]
        eligible = np.flatnonzero(scores > 0 if v == "tags" else ~np.isnan(scores))
        top = eligible[np.argsort(-scores[eligible], kind="stable")][:limit]
        ranked = RankedList([f"p{i:04d}" for i in top], scores[top].astype(np.float64))
        out[v] = ([int(i) for i in top], ViewList(v, ranked, limit, sparse=v == "tags"))
    return out


def _brute(
    raw: Mapping[str, np.ndarray], weights: Mapping[str, float], union: list[int]
) -> tuple[list[str], np.ndarray]:
    """Every union member scored in every view: the ranking the threshold algorithm must match."""
    views = {}
    for v in weights:
        r = raw[v][union].astype(np.float64)
        views[v] = calibrate_view(r, POOL, matched=r > 0) if v == "tags" else calibrate_view(r, POOL)
    return [f"p{i:04d}" for i in union], weighted_total(views, weights)


def _order(
    ids: list[str], totals: np.ndarray, offset: int, cursor: Cursor | None, threshold: float | None
) -> list[int]:
    order = [i for i in rank(ids, totals) if threshold is None or totals[i] >= threshold]
    return [i for i in order if cursor.after(float(totals[i]), ids[i])] if cursor else order[offset:]


def _scorer(raw: Mapping[str, np.ndarray], asked: list[int]) -> Scorer:
    """Exact scores from the library, as the engine's `has_id` search gives them."""

    def score(ask: Mapping[str, Sequence[str]]) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for view, pids in ask.items():
            asked.append(len(pids))
            present = {p: float(raw[view][int(p[1:])]) for p in pids}
            out[view] = {p: s for p, s in present.items() if (s > 0 if view == "tags" else not np.isnan(s))}
        return out

    return score


CASES = [
    # weights, limit, offset, threshold, list length
    ({"image": 0.5, "edge": 0.3, "text": 0.2}, 10, 0, None, POOL),
    ({"image": 0.4, "edge": 0.4, "text": 0.1, "tags": 0.1}, 10, 0, None, POOL),
    ({"image": 1.0, "tags": 1.0}, 5, 20, None, POOL),
    ({"image": 0.5, "edge": 0.5}, 8, 0, 0.6, POOL),
    ({"text": 0.7, "tags": 0.3}, 10, 0, None, 2 * N),  # lists hold the whole view: complete
    ({"image": 0.2, "edge": 0.2, "text": 0.6}, 30, 0, None, POOL),  # the page is most of the union
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("weights", "limit", "offset", "threshold", "length"), CASES)
def test_the_page_is_the_one_brute_force_gives(
    seed: int, weights: dict[str, float], limit: int, offset: int, threshold: float | None, length: int
) -> None:
    raw = _library(seed)
    lists = _lists(raw, list(weights), length)
    union = sorted({i for top, _ in lists.values() for i in top})
    want_ids, want_totals = _brute(raw, weights, union)
    want = _order(want_ids, want_totals, offset, None, threshold)

    got = prune_and_rank([v for _, v in lists.values()], weights, POOL, _scorer(raw, []), need=offset + limit + 1)
    order = _order(got.ids, got.totals, offset, None, threshold)

    assert [got.ids[i] for i in order[:limit]] == [want_ids[i] for i in want[:limit]]
    assert got.totals[order[:limit]] == pytest.approx(want_totals[want[:limit]], abs=1e-12)
    assert (len(order) > limit) == (len(want) > limit)  # whether there is a next page
    for i in order[:limit]:  # every hit has its exact score in every view
        j = want_ids.index(got.ids[i])
        for v in weights:
            a, b = got.views[v].raw[i], raw[v][union[j]]
            assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b)
    assert got.candidates == len(union) == len(got.ids) + got.pruned


@pytest.mark.parametrize("agreement", [0.0, 0.9])
def test_it_scores_a_fraction_of_the_union(agreement: float) -> None:
    """Views that agree (a picture's image and edge views) prune most candidates; independent
    views still prune some."""
    rng = np.random.default_rng(5)
    common = rng.normal(size=4000)
    raw = {v: np.tanh(0.3 * (agreement * common + rng.normal(size=4000))) for v in ("image", "edge")}
    weights = {"image": 0.5, "edge": 0.5}
    lists = _lists(raw, list(weights), 200)
    asked: list[int] = []
    got = prune_and_rank([v for _, v in lists.values()], weights, 200, _scorer(raw, asked), need=11)
    unknown = sum(got.candidates - len(top) for top, _ in lists.values())  # scores no list holds
    assert got.pruned > 0
    assert sum(asked) < unknown / (1.5 if agreement == 0 else 4)


def test_a_cursor_page_continues_where_the_last_one_ended() -> None:
    raw = _library(11)
    weights = {"image": 0.6, "text": 0.4}
    lists = _lists(raw, list(weights), POOL)
    union = sorted({i for top, _ in lists.values() for i in top})
    want_ids, want_totals = _brute(raw, weights, union)
    full = rank(want_ids, want_totals)
    last = full[9]
    cursor = Cursor(float(want_totals[last]), want_ids[last], 10)

    got = prune_and_rank([v for _, v in lists.values()], weights, POOL, _scorer(raw, []), need=21)
    page = _order(got.ids, got.totals, 0, cursor, None)[:10]
    assert [got.ids[i] for i in page] == [want_ids[i] for i in full[10:20]]
    assert got.pruned > 0


def test_without_a_need_every_candidate_is_scored() -> None:
    raw = _library(2)
    lists = _lists(raw, ["image", "edge"], POOL)
    got = prune_and_rank([v for _, v in lists.values()], {"image": 0.5, "edge": 0.5}, POOL, _scorer(raw, []), None)
    assert got.pruned == 0 and len(got.ids) == got.candidates


def test_empty_lists_rank_nothing() -> None:
    empty = ViewList("image", RankedList([], np.zeros(0)), 10)
    got = prune_and_rank([empty], {"image": 1.0}, POOL, lambda ask: {}, need=5)
    assert got.ids == [] and got.totals.size == 0 and got.candidates == 0
