"""Ranking metrics (app/search/metrics.py) against hand-computed examples."""

from __future__ import annotations

import math

import pytest

from app.search.metrics import (
    average_precision,
    mean_metrics,
    ndcg_at_k,
    precision_at_k,
    query_metrics,
    recall_at_k,
    reciprocal_rank,
)

# Ranked list: relevant items (R) at ranks 1, 3 and 6; a fourth relevant item "z" is never ranked.
RANKED = ["a", "x1", "b", "x2", "x3", "c", "x4", "x5", "x6", "x7"]
RELEVANT = {"a", "b", "c", "z"}


def test_precision_and_recall_at_k_by_hand() -> None:
    assert precision_at_k(RANKED, RELEVANT, 1) == 1.0
    assert precision_at_k(RANKED, RELEVANT, 3) == pytest.approx(2 / 3)
    assert precision_at_k(RANKED, RELEVANT, 10) == pytest.approx(3 / 10)
    assert recall_at_k(RANKED, RELEVANT, 3) == pytest.approx(2 / 4)
    assert recall_at_k(RANKED, RELEVANT, 10) == pytest.approx(3 / 4)


def test_precision_counts_slots_past_a_short_list_as_misses() -> None:
    assert precision_at_k(["a"], {"a"}, 5) == pytest.approx(1 / 5)


def test_average_precision_over_the_whole_list_by_hand() -> None:
    # precision at each relevant hit: 1/1, 2/3, 3/6; the unranked "z" adds 0; divide by |R| = 4.
    expected = (1 + 2 / 3 + 3 / 6) / 4
    assert average_precision(RANKED, RELEVANT) == pytest.approx(expected)
    assert expected == pytest.approx(0.541667, abs=1e-6)


def test_average_precision_at_k_divides_by_min_of_relevant_and_k() -> None:
    # Top 3 holds hits at 1 and 3: (1 + 2/3) / min(4, 3).
    assert average_precision(RANKED, RELEVANT, 3) == pytest.approx((1 + 2 / 3) / 3)
    # K = 10: (1 + 2/3 + 1/2) / min(4, 10) = the whole-list AP here.
    assert average_precision(RANKED, RELEVANT, 10) == pytest.approx(average_precision(RANKED, RELEVANT))
    assert average_precision(["x", "a"], {"a"}, 1) == 0.0


def test_reciprocal_rank_by_hand() -> None:
    assert reciprocal_rank(RANKED, RELEVANT) == 1.0
    assert reciprocal_rank(["x", "y", "a"], {"a"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x", "y", "a"], {"a"}, k=2) == 0.0
    assert reciprocal_rank(["x", "y"], {"a"}) == 0.0


def test_ndcg_at_k_by_hand() -> None:
    # Hits at 1 and 3 in the top 5: DCG = 1/log2(2) + 1/log2(4) + … rank 6 is outside.
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = sum(1 / math.log2(i + 1) for i in range(1, 5))  # 4 relevant fit in a top 5
    assert ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["a", "b"], {"a", "b"}, 2) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "a"], {"a"}, 2) == pytest.approx(1 / math.log2(3))


def test_a_perfect_ranking_scores_one_everywhere() -> None:
    m = query_metrics(["a", "b", "x"], {"a", "b"}, k=2)
    assert (m.ap_at_k, m.ap, m.precision_at_k, m.recall_at_k, m.rr, m.ndcg_at_k) == (1, 1, 1, 1, 1, pytest.approx(1))


def test_mean_metrics_average_over_queries_and_name_the_cut_off() -> None:
    # Query 1: relevant first (AP 1, RR 1); query 2: relevant third (AP 1/3, RR 1/3).
    per_query = [query_metrics(["a", "x", "y"], {"a"}, 2), query_metrics(["x", "y", "a"], {"a"}, 2)]
    means = mean_metrics(per_query, 2)
    assert set(means) == {"mAP@2", "mAP@all", "P@2", "R@2", "MRR", "nDCG@2"}
    assert means["mAP@all"] == pytest.approx((1 + 1 / 3) / 2)
    assert means["MRR"] == pytest.approx((1 + 1 / 3) / 2)
    assert means["mAP@2"] == pytest.approx(0.5)  # the second query's hit is below the cut-off
    assert means["P@2"] == pytest.approx(0.25)
    assert means["R@2"] == pytest.approx(0.5)


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_a_bad_cut_off_is_refused(k: object) -> None:
    with pytest.raises(ValueError, match="`k` must be a positive integer"):
        precision_at_k(["a"], {"a"}, k)  # type: ignore[arg-type]


def test_no_relevant_items_and_repeated_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="`relevant` must not be empty"):
        average_precision(["a"], set())
    with pytest.raises(ValueError, match=r"repeats \['a'\]"):
        reciprocal_rank(["a", "b", "a"], {"a"})
    with pytest.raises(ValueError, match="`per_query` must not be empty"):
        mean_metrics([], 10)
