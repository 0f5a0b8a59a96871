"""Exact weighted scores over a candidate set (pure numpy; no store, no HTTP).

Qdrant's fusion only sees each view's prefetch list and counts a point missing from a
list as 0 for that view; here every candidate gets its true cosine in every view, so a
candidate missing from one prefetch is not punished.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from app.search.calibration import calibrate, calibration_bounds


@dataclass
class ViewScores:
    raw: np.ndarray  # (n,) raw score per candidate; NaN where the candidate has no vector
    calibrated: np.ndarray  # (n,) in [0, 1]
    bounds: tuple[float, float]


def dense_scores(query: np.ndarray, vectors: Sequence[np.ndarray | None]) -> np.ndarray:
    """Cosine of the (unit) query with each candidate's (unit) vector; NaN if it has none."""
    out = np.full(len(vectors), np.nan)
    for i, v in enumerate(vectors):
        if v is not None:
            out[i] = float(np.dot(query, v))
    return out


def calibrate_view(raw: np.ndarray, pool: int, matched: np.ndarray | None = None) -> ViewScores:
    """Bounds from the view's own top-`pool` scores. The search passes MIN_POOL, a depth
    every page's prefetch reaches, so the bounds (and every score) are the same on each page.

    `matched` marks the candidates the view can return at all (default: those with a
    vector). A sparse view returns only points sharing a term, so its non-matches neither
    pull the bounds down nor score above 0 — as in Qdrant's fusion, which never sees them.
    """
    members = ~np.isnan(raw) if matched is None else (matched & ~np.isnan(raw))
    return with_bounds(raw, view_bounds(raw[members], pool), members)


def view_bounds(scores: np.ndarray, pool: int) -> tuple[float, float]:
    """Calibration bounds from the top `pool` of a view's scores ((0, 1) when it has none)."""
    present = np.sort(scores)[::-1][:pool]
    return calibration_bounds(present) if present.size else (0.0, 1.0)


def with_bounds(raw: np.ndarray, bounds: tuple[float, float], members: np.ndarray) -> ViewScores:
    """`raw` calibrated by `bounds`; candidates outside `members` (no vector, or a sparse
    non-match) score 0."""
    calibrated = calibrate(raw, *bounds)
    calibrated[~members] = 0.0
    return ViewScores(raw=raw, calibrated=calibrated, bounds=bounds)


def weighted_total(views: Mapping[str, ViewScores], weights: Mapping[str, float]) -> np.ndarray:
    if not views:
        raise ValueError("`views` must not be empty")
    if set(views) != set(weights):
        raise ValueError(f"`weights` must name the same views as `views`: {sorted(weights)} vs {sorted(views)}")
    n = len(next(iter(views.values())).raw)
    total = np.zeros(n)
    for name, scores in views.items():
        total += weights[name] * scores.calibrated
    return total


def rank(ids: Sequence[str], totals: np.ndarray) -> list[int]:
    """Candidate indices by score descending, ties by id: stable across calls and pages."""
    return sorted(range(len(ids)), key=lambda i: (-float(totals[i]), ids[i]))


def normalize_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights ≥ 0, not all zero → summing to 1."""
    bad = {k: v for k, v in weights.items() if v < 0 or not np.isfinite(v)}
    if bad:
        raise ValueError(f"weights must be finite and >= 0, got {bad}")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("at least one weight must be > 0")
    return {k: v / total for k, v in weights.items() if v > 0}


def combine(positives: Sequence[np.ndarray], negatives: Sequence[np.ndarray]) -> np.ndarray:
    """One query vector from examples: the mean of the positives, pushed away from the mean
    of the negatives (Qdrant's average-vector recommend strategy: 2·p̄ − n̄), unit length."""
    if not positives:
        raise ValueError("`positives` must not be empty")
    vec = np.mean(np.stack(positives), axis=0)
    if negatives:
        vec = 2 * vec - np.mean(np.stack(negatives), axis=0)
    norm = float(np.linalg.norm(vec))
    unit: np.ndarray = vec / norm if norm > 1e-12 else vec
    return unit
