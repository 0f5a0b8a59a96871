"""Ranking quality metrics (pure functions; no store, no model).

Every function takes one query's ranked list of item ids (best first) and the set of ids
relevant to it (binary relevance), and returns a number in [0, 1]. Averaging over the
queries gives the mean figures (mAP, mean P@K, MRR, …). Definitions:

- precision@K   = |relevant ∩ top K| / K  (a list shorter than K counts the missing slots as misses)
- recall@K      = |relevant ∩ top K| / |relevant|
- AP@K          = (1 / min(|relevant|, K)) · Σ_{k ≤ K, item k relevant} precision@k
- AP (AP@all)   = (1 / |relevant|) · Σ_{item k relevant} precision@k over the whole list;
                  a relevant item the list never reaches adds 0
- RR            = 1 / rank of the first relevant item (0 when none is ranked)
- nDCG@K        = DCG@K / IDCG@K with DCG = Σ_{k ≤ K} rel_k / log2(k + 1), binary rel_k,
                  and IDCG the DCG of min(|relevant|, K) relevant items at the top

A ranking that repeats an id is refused: it would count one relevant item twice. Queries
with no relevant item are refused too: every metric above is undefined for them, so the
caller decides whether to skip them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass


def _check(ranked: Sequence[str], relevant: Collection[str], k: int | None = None) -> None:
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ValueError(f"`k` must be a positive integer but is {k!r}")
    if not relevant:
        raise ValueError("`relevant` must not be empty: the metric is undefined for a query with no relevant item")
    if len(set(ranked)) != len(ranked):
        counts = Counter(ranked)
        dupes = sorted(item for item, n in counts.items() if n > 1)
        raise ValueError(f"`ranked` must not repeat ids, but repeats {dupes[:5]}")


def _hits(ranked: Sequence[str], relevant: Collection[str]) -> list[bool]:
    rel = set(relevant)
    return [item in rel for item in ranked]


def precision_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    _check(ranked, relevant, k)
    return sum(_hits(ranked[:k], relevant)) / k


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    _check(ranked, relevant, k)
    return sum(_hits(ranked[:k], relevant)) / len(set(relevant))


def average_precision(ranked: Sequence[str], relevant: Collection[str], k: int | None = None) -> float:
    """AP@K, or AP over the whole list (AP@all) when `k` is None."""
    _check(ranked, relevant, k)
    n_rel = len(set(relevant))
    hits = _hits(ranked if k is None else ranked[:k], relevant)
    found = 0
    total = 0.0
    for position, hit in enumerate(hits, start=1):
        if hit:
            found += 1
            total += found / position
    denominator = n_rel if k is None else min(n_rel, k)
    return total / denominator


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str], k: int | None = None) -> float:
    """1 / rank of the first relevant item within the top `k` (or the whole list)."""
    _check(ranked, relevant, k)
    for position, hit in enumerate(_hits(ranked if k is None else ranked[:k], relevant), start=1):
        if hit:
            return 1.0 / position
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    _check(ranked, relevant, k)
    dcg = sum(1.0 / math.log2(position + 1) for position, hit in enumerate(_hits(ranked[:k], relevant), 1) if hit)
    ideal = sum(1.0 / math.log2(position + 1) for position in range(1, min(len(set(relevant)), k) + 1))
    return dcg / ideal


@dataclass(frozen=True)
class QueryMetrics:
    """One query's figures at one cut-off `k`."""

    ap_at_k: float
    ap: float
    precision_at_k: float
    recall_at_k: float
    rr: float
    ndcg_at_k: float


def query_metrics(ranked: Sequence[str], relevant: Collection[str], k: int) -> QueryMetrics:
    return QueryMetrics(
        ap_at_k=average_precision(ranked, relevant, k),
        ap=average_precision(ranked, relevant),
        precision_at_k=precision_at_k(ranked, relevant, k),
        recall_at_k=recall_at_k(ranked, relevant, k),
        rr=reciprocal_rank(ranked, relevant),
        ndcg_at_k=ndcg_at_k(ranked, relevant, k),
    )


def mean_metrics(per_query: Sequence[QueryMetrics], k: int) -> dict[str, float]:
    """Means over queries, named for reports: mAP@K, mAP@all, P@K, R@K, MRR, nDCG@K."""
    if not per_query:
        raise ValueError("`per_query` must not be empty")
    n = len(per_query)
    return {
        f"mAP@{k}": sum(m.ap_at_k for m in per_query) / n,
        "mAP@all": sum(m.ap for m in per_query) / n,
        f"P@{k}": sum(m.precision_at_k for m in per_query) / n,
        f"R@{k}": sum(m.recall_at_k for m in per_query) / n,
        "MRR": sum(m.rr for m in per_query) / n,
        f"nDCG@{k}": sum(m.ndcg_at_k for m in per_query) / n,
    }
