"""The exact re-rank without scoring every candidate in every view: bounds prune the ones that
cannot reach the page.

Each active view's list is its nearest points under the filter, best first, ids and scores
(one batched engine call); their union is the candidate set, as before. A candidate's score in
a view whose list holds it is known; in a view whose list does not, it is at most that list's
last score (the list is the view's top), or absent if the list holds every point the view can
return. Calibrated, those give each candidate a lower bound (unknown views count 0) and an upper
bound (unknown views at the list's last score). A candidate whose upper bound is below the
need-th best lower bound ranks below `need` others whatever its unknown scores are: it is not
scored. The rest get their exact score in their unknown views from one batched `has_id`
search (VectorStore.score_points).

The page, its scores and every hit's per-view scores are the ones scoring the whole union
gives (tests/search/test_pruning.py); under HNSW a point a view's graph missed may score above
that view's list, as it could be missing from the union altogether.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from app.search.calibration import calibrate
from app.search.rerank import ViewScores, view_bounds, weighted_total, with_bounds
from app.storage.types import RankedList

# {view: ids} → {view: {id: exact score}}; an id missing from the answer has no vector in the
# view (dense) or no term in common with the query (sparse).
Scorer = Callable[[Mapping[str, Sequence[str]]], Mapping[str, Mapping[str, float]]]


@dataclass(frozen=True)
class ViewList:
    name: str
    ranked: RankedList
    asked: int  # the search's limit
    sparse: bool = False

    @property
    def complete(self) -> bool:
        """Shorter than asked: the list holds every point the view can return under the filter."""
        return len(self.ranked) < self.asked

    def absent(self) -> float:
        """The raw score of a point the view cannot return: no shared term (0), no vector (NaN)."""
        return 0.0 if self.sparse else float("nan")

    def members(self, raw: np.ndarray) -> np.ndarray:
        """Which scores count as the view returning the point: not NaN, and for a sparse view > 0."""
        present: np.ndarray = ~np.isnan(raw)
        return present & (raw > 0) if self.sparse else present


@dataclass
class Ranking:
    ids: list[str]  # the candidates scored exactly, in every view
    views: dict[str, ViewScores]  # per view, over `ids`
    totals: np.ndarray
    candidates: int  # the union's size, pruned ones included
    pruned: int  # candidates not scored: none of them reaches the first `need`


def prune_and_rank(
    lists: Sequence[ViewList], weights: Mapping[str, float], pool: int, score: Scorer, need: int | None
) -> Ranking:
    """The union of `lists` (views named as in `weights`), every candidate that can reach the
    first `need` (None: every candidate) scored exactly; each view calibrated on its list's top
    `pool` scores."""
    ids = list(dict.fromkeys(pid for v in lists for pid in v.ranked.ids))
    index = {pid: i for i, pid in enumerate(ids)}
    raw = np.full((len(ids), len(lists)), np.nan)
    unknown = np.ones(raw.shape, dtype=bool)
    for j, v in enumerate(lists):
        rows = [index[pid] for pid in v.ranked.ids]
        raw[rows, j] = v.ranked.scores
        unknown[rows, j] = False
        if v.complete:  # a candidate not in it is absent from the view
            raw[unknown[:, j], j] = v.absent()
            unknown[:, j] = False
    bounds = [view_bounds(v.ranked.scores[v.members(v.ranked.scores)], pool) for v in lists]
    w = np.array([weights[v.name] for v in lists])

    if unknown.any():
        calibrated = _calibrated(lists, raw, unknown, bounds)
        lower = calibrated @ w
        upper = lower + (unknown * [_ceiling(v, b) for v, b in zip(lists, bounds, strict=True)]) @ w
        cut = np.partition(lower, -need)[-need] if need is not None and need <= len(ids) else -np.inf
        _fill(lists, ids, raw, unknown, np.flatnonzero(unknown.any(axis=1) & (upper >= cut)), score)

    exact = np.flatnonzero(~unknown.any(axis=1))
    views = {
        v.name: with_bounds(raw[exact, j], b, v.members(raw[exact, j]))
        for j, (v, b) in enumerate(zip(lists, bounds, strict=True))
    }
    totals = weighted_total(views, weights) if exact.size else np.zeros(0)
    return Ranking([ids[i] for i in exact.tolist()], views, totals, len(ids), len(ids) - exact.size)


def _calibrated(
    lists: Sequence[ViewList], raw: np.ndarray, unknown: np.ndarray, bounds: Sequence[tuple[float, float]]
) -> np.ndarray:
    """Calibrated scores, points × views; an unknown score counts 0."""
    out = np.zeros(raw.shape)
    for j, (v, b) in enumerate(zip(lists, bounds, strict=True)):
        out[:, j] = with_bounds(raw[:, j], b, v.members(raw[:, j]) & ~unknown[:, j]).calibrated
    return out


def _ceiling(view: ViewList, bounds: tuple[float, float]) -> float:
    """The most a candidate missing from the view's (full) list can score there, calibrated:
    the list is the view's top, so at most its last score."""
    last = view.ranked.scores[-1]
    if view.sparse and last <= 0:
        return 0.0
    return float(calibrate(np.array([last]), *bounds)[0])


def _fill(
    lists: Sequence[ViewList], ids: list[str], raw: np.ndarray, unknown: np.ndarray, rows: np.ndarray, score: Scorer
) -> None:
    """The exact scores of the candidates at `rows` in their unknown views: one engine call."""
    ask = {v.name: [ids[i] for i in rows.tolist() if unknown[i, j]] for j, v in enumerate(lists)}
    answers = score({name: pids for name, pids in ask.items() if pids})
    for j, v in enumerate(lists):
        got = answers.get(v.name, {})
        for i in rows.tolist():
            if unknown[i, j]:
                raw[i, j] = got.get(ids[i], v.absent())
                unknown[i, j] = False
