"""Pareto-optimal, complementary reference sets over a sub-query score matrix (pure numpy).

`scores` is an (n candidates × m sub-queries) matrix in [0, 1]: how well each candidate
matches each sub-query of a decomposed prompt (app/search/complementary.py computes it).

* `dominates` / `pareto_frontier`: a candidate is dominated when another one scores at
  least as much on every sub-query and strictly more on one. Equal rows do not dominate
  each other, so ties stay on the frontier together.
* `select_complementary`: from the frontier, a small set R (|R| ≤ k) maximising the soft
  coverage f(R) = Σⱼ wⱼ · max_{i∈R} sᵢⱼ — each sub-query counts with the best score any
  chosen reference has for it. f is monotone submodular, so greedy selection is within
  (1 − 1/e) of the optimum; when the number of subsets to try is small (`max_subsets`)
  the search is exact. Either way a reference that adds no coverage is not chosen, so
  the set can be smaller than k (and never larger than the frontier).
* `coverage_at_k`: the evaluation metric — the share of a query's parts that at least one
  of the first k results satisfies.

Ties are broken deterministically: larger weighted total first, then lower index.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import combinations
from math import comb
from typing import Literal

import numpy as np

Method = Literal["auto", "greedy", "exact"]
EPS = 1e-9


def _matrix(scores: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"`scores` must be a 2-d (candidates × sub-queries) matrix, got shape {s.shape}")
    if s.shape[1] == 0:
        raise ValueError("`scores` needs at least one sub-query column")
    if not np.all(np.isfinite(s)):
        raise ValueError("`scores` must be finite")
    return s


def _weights(weights: Sequence[float] | np.ndarray | None, m: int) -> np.ndarray:
    if weights is None:
        return np.ones(m)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (m,):
        raise ValueError(f"`weights` must have one entry per sub-query ({m}), got shape {w.shape}")
    if np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise ValueError(f"`weights` must be finite, >= 0 and not all zero, got {w.tolist()}")
    return w


def dominates(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> bool:
    """True when `a` is at least `b` everywhere and strictly better somewhere."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"`a` and `b` must have the same shape, got {x.shape} and {y.shape}")
    return bool(np.all(x >= y) and np.any(x > y))


def pareto_frontier(scores: np.ndarray | Sequence[Sequence[float]]) -> list[int]:
    """Indices of the non-dominated rows, in index order."""
    s = _matrix(scores)
    n = s.shape[0]
    keep: list[int] = []
    for i in range(n):
        ge = np.all(s >= s[i], axis=1)
        gt = np.any(s > s[i], axis=1)
        if not np.any(ge & gt):
            keep.append(i)
    return keep


def coverage_value(scores: np.ndarray, chosen: Sequence[int], weights: np.ndarray | None = None) -> float:
    """f(R) = Σⱼ wⱼ · max_{i∈R} sᵢⱼ (0 for the empty set)."""
    s = _matrix(scores)
    w = _weights(weights, s.shape[1])
    if not chosen:
        return 0.0
    return float(w @ s[list(chosen)].max(axis=0))


@dataclass(frozen=True)
class Selection:
    indices: list[int]  # rows of `scores`, in the order they were chosen (largest gain first)
    gains: list[float]  # each one's marginal coverage when it was added
    coverage: float  # f(indices)
    method: Literal["greedy", "exact"]


def _order(s: np.ndarray, w: np.ndarray, candidates: Sequence[int]) -> list[int]:
    totals = s @ w
    return sorted(candidates, key=lambda i: (-float(totals[i]), i))


def _greedy(s: np.ndarray, w: np.ndarray, candidates: Sequence[int], k: int) -> tuple[list[int], list[float]]:
    order = _order(s, w, candidates)
    best = np.zeros(s.shape[1])
    chosen: list[int] = []
    gains: list[float] = []
    while len(chosen) < k:
        pick, pick_gain = -1, EPS
        for i in order:
            if i in chosen:
                continue
            gain = float(w @ (np.maximum(best, s[i]) - best))
            if gain > pick_gain + EPS:  # strictly better: earlier in `order` wins ties
                pick, pick_gain = i, gain
        if pick < 0:
            break
        chosen.append(pick)
        gains.append(pick_gain)
        best = np.maximum(best, s[pick])
    return chosen, gains


def _exact(s: np.ndarray, w: np.ndarray, candidates: Sequence[int], k: int) -> list[int]:
    """The smallest subset reaching the best coverage; among equals, the first in `_order`."""
    order = _order(s, w, candidates)
    top = max((float(w @ s[list(c)].max(axis=0)) for c in combinations(order, k)), default=0.0)
    for size in range(1, k + 1):
        for c in combinations(order, size):
            if float(w @ s[list(c)].max(axis=0)) >= top - EPS:
                return list(c)
    return []


def subsets_to_try(frontier: int, k: int) -> int:
    return sum(comb(frontier, size) for size in range(1, min(k, frontier) + 1))


def select_complementary(
    scores: np.ndarray | Sequence[Sequence[float]],
    k: int,
    *,
    weights: Sequence[float] | np.ndarray | None = None,
    candidates: Collection[int] | None = None,
    method: Method = "auto",
    max_subsets: int = 20_000,
) -> Selection:
    """At most `k` rows (from `candidates`, default: the Pareto frontier) maximising coverage.

    `auto` is exact when at most `max_subsets` subsets of size ≤ k need trying, else greedy;
    `exact` refuses (ValueError) to try more than `max_subsets`.
    """
    s = _matrix(scores)
    w = _weights(weights, s.shape[1])
    if k < 1:
        raise ValueError(f"`k` must be >= 1, got {k}")
    if method not in ("auto", "greedy", "exact"):
        raise ValueError(f"`method` must be one of auto, greedy, exact, got {method!r}")
    pool = sorted(set(candidates)) if candidates is not None else pareto_frontier(s)
    bad = [i for i in pool if not 0 <= i < s.shape[0]]
    if bad:
        raise ValueError(f"`candidates` holds rows outside 0..{s.shape[0] - 1}: {bad}")
    if np.any(s < 0):
        raise ValueError("`scores` must be >= 0 (coverage takes the best score per sub-query)")
    k_eff = min(k, len(pool))
    subsets = subsets_to_try(len(pool), k_eff)
    if method == "exact" and subsets > max_subsets:
        raise ValueError(
            f"`method` exact would try {subsets} subsets of {len(pool)} candidates (k={k_eff}), "
            f"more than `max_subsets` ({max_subsets}); use auto or greedy"
        )
    exact = method == "exact" or (method == "auto" and subsets <= max_subsets)
    if k_eff == 0:
        return Selection([], [], 0.0, "exact" if exact else "greedy")
    if exact:
        # A smallest optimal set: every member adds coverage, so greedy over it orders all of
        # them (largest gain first) and reports each one's marginal gain.
        found = _exact(s, w, pool, k_eff)
        chosen, gains = _greedy(s, w, found, len(found))
    else:
        chosen, gains = _greedy(s, w, pool, k_eff)
    return Selection(
        indices=chosen,
        gains=[round(g, 9) for g in gains],
        coverage=coverage_value(s, chosen, w),
        method="exact" if exact else "greedy",
    )


def coverage_at_k(parts: Sequence[Collection[str]], ranked: Sequence[str], k: int) -> float:
    """Share of a query's parts satisfied by at least one of the first `k` results.

    `parts[j]` holds the ids that satisfy part j (e.g. the images tagged with the j-th tag
    of a compositional query); `ranked` is a result list, best first.
    """
    if k < 1:
        raise ValueError(f"`k` must be >= 1, got {k}")
    if not parts:
        raise ValueError("`parts` must not be empty")
    top = set(ranked[:k])
    return sum(1 for p in parts if top & set(p)) / len(parts)
