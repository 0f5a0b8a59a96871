"""Pareto frontier, complementary selection, coverage@k and grounding on hand-made matrices."""

from __future__ import annotations

import numpy as np
import pytest

from app.search.grounding import Part, ground
from app.search.pareto import (
    coverage_at_k,
    coverage_value,
    dominates,
    pareto_frontier,
    select_complementary,
    subsets_to_try,
)


def test_dominance_needs_at_least_as_good_everywhere_and_better_somewhere() -> None:
    assert dominates([1.0, 0.5], [0.9, 0.5])
    assert not dominates([1.0, 0.5], [1.0, 0.5])  # equal rows: a tie, neither dominates
    assert not dominates([1.0, 0.1], [0.2, 0.9])  # a trade-off
    assert not dominates([0.9, 0.5], [1.0, 0.5])
    with pytest.raises(ValueError, match="same shape"):
        dominates([1.0], [1.0, 2.0])


def test_frontier_drops_dominated_rows_and_keeps_trade_offs() -> None:
    scores = [
        [0.9, 0.1, 0.0],  # 0: best on q1
        [0.1, 0.8, 0.0],  # 1: best on q2
        [0.5, 0.5, 0.5],  # 2: a generalist, not dominated
        [0.4, 0.4, 0.4],  # 3: dominated by 2
        [0.0, 0.0, 0.7],  # 4: best on q3
        [0.1, 0.1, 0.0],  # 5: dominated by 0, 1 and 2
    ]
    assert pareto_frontier(scores) == [0, 1, 2, 4]


def test_tied_rows_stay_on_the_frontier_together() -> None:
    scores = [[0.5, 0.5], [0.5, 0.5], [0.4, 0.5]]
    assert pareto_frontier(scores) == [0, 1]


def test_frontier_of_one_row_and_of_equal_rows() -> None:
    assert pareto_frontier([[0.0, 0.0]]) == [0]
    assert pareto_frontier(np.zeros((3, 2))) == [0, 1, 2]
    assert pareto_frontier(np.zeros((0, 2))) == []


@pytest.mark.parametrize(
    "bad, message",
    [([0.1, 0.2], "2-d"), (np.zeros((2, 0)), "at least one"), ([[0.1, np.nan]], "finite")],
)
def test_frontier_validates_its_matrix(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pareto_frontier(bad)  # type: ignore[arg-type]


SPECIALISTS = np.array(
    [
        [0.9, 0.0, 0.0],  # 0
        [0.0, 0.8, 0.0],  # 1
        [0.0, 0.0, 0.7],  # 2
        [0.5, 0.3, 0.0],  # 3: on the frontier, but adds nothing to 0 + 1
    ]
)


@pytest.mark.parametrize("method", ["greedy", "exact"])
def test_selection_covers_every_sub_query_with_complementary_rows(method: str) -> None:
    sel = select_complementary(SPECIALISTS, 3, method=method)  # type: ignore[arg-type]
    assert sorted(sel.indices) == [0, 1, 2]
    assert sel.coverage == pytest.approx(0.9 + 0.8 + 0.7)
    assert sel.method == method
    assert sel.gains == sorted(sel.gains, reverse=True)
    assert sum(sel.gains) == pytest.approx(sel.coverage)


def test_exact_beats_greedy_where_greedy_is_myopic() -> None:
    # Greedy takes the generalist (total 1.2) first and then needs a third row; the best
    # pair is the two specialists (0.9 + 0.9 = 1.8 > 1.2 + 0.3).
    scores = np.array([[0.6, 0.6], [0.9, 0.0], [0.0, 0.9]])
    greedy = select_complementary(scores, 2, method="greedy")
    exact = select_complementary(scores, 2, method="exact")
    assert greedy.indices == [0, 1] and greedy.coverage == pytest.approx(1.5)
    assert sorted(exact.indices) == [1, 2] and exact.coverage == pytest.approx(1.8)
    assert select_complementary(scores, 2).method == "exact"  # auto: small enough
    assert select_complementary(scores, 2, max_subsets=1).method == "greedy"
    with pytest.raises(ValueError, match="max_subsets"):
        select_complementary(scores, 2, method="exact", max_subsets=1)


def test_k_larger_than_the_frontier_returns_at_most_the_frontier() -> None:
    scores = np.array([[0.9, 0.0], [0.0, 0.9], [0.05, 0.0], [0.2, 0.0]])
    assert pareto_frontier(scores) == [0, 1]
    for method in ("greedy", "exact", "auto"):
        sel = select_complementary(scores, 10, method=method)  # type: ignore[arg-type]
        assert sorted(sel.indices) == [0, 1]


def test_a_row_that_adds_no_coverage_is_not_chosen() -> None:
    # Row 2 is on the frontier but rows 0 and 1 together cover everything it does.
    scores = np.array([[1.0, 0.0], [0.0, 1.0], [0.4, 0.4]])
    assert pareto_frontier(scores) == [0, 1, 2]
    for method in ("greedy", "exact"):
        sel = select_complementary(scores, 3, method=method)  # type: ignore[arg-type]
        assert sorted(sel.indices) == [0, 1]


def test_ties_are_broken_by_total_then_by_index() -> None:
    scores = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
    for method in ("greedy", "exact"):
        sel = select_complementary(scores, 3, method=method)  # type: ignore[arg-type]
        assert sel.indices == [0]  # equal rows: the first; the others add nothing


def test_all_zero_scores_select_nothing() -> None:
    for method in ("greedy", "exact"):
        sel = select_complementary(np.zeros((3, 2)), 2, method=method)  # type: ignore[arg-type]
        assert sel.indices == [] and sel.coverage == 0.0


def test_sub_query_weights_steer_the_choice() -> None:
    scores = np.array([[0.9, 0.0], [0.0, 0.8]])
    assert select_complementary(scores, 1, weights=[1, 1]).indices == [0]
    assert select_complementary(scores, 1, weights=[1, 2]).indices == [1]
    assert coverage_value(scores, [0, 1], np.array([1.0, 2.0])) == pytest.approx(0.9 + 1.6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"k": 0}, "`k`"),
        ({"k": 1, "weights": [1.0]}, "one entry per sub-query"),
        ({"k": 1, "weights": [0.0, 0.0]}, "not all zero"),
        ({"k": 1, "candidates": [5]}, "outside"),
        ({"k": 1, "method": "best"}, "`method`"),
    ],
)
def test_selection_validates_its_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        select_complementary(np.ones((2, 2)), **kwargs)  # type: ignore[arg-type]


def test_negative_scores_are_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        select_complementary([[-0.1, 0.2]], 1)


def test_subsets_to_try_counts_every_size_up_to_k() -> None:
    assert subsets_to_try(4, 2) == 4 + 6
    assert subsets_to_try(2, 5) == 2 + 1


def test_coverage_at_k_is_the_share_of_parts_some_top_k_result_satisfies() -> None:
    parts = [{"a", "b"}, {"c"}, {"d"}]
    assert coverage_at_k(parts, ["a", "c", "x", "d"], 2) == pytest.approx(2 / 3)
    assert coverage_at_k(parts, ["a", "c", "x", "d"], 4) == 1.0
    assert coverage_at_k(parts, [], 3) == 0.0
    with pytest.raises(ValueError, match="`k`"):
        coverage_at_k(parts, ["a"], 0)
    with pytest.raises(ValueError, match="empty"):
        coverage_at_k([], ["a"], 1)


def test_grounding_attributes_each_part_to_its_best_reference_with_a_role() -> None:
    parts = [Part("q1", "watercolor", "style"), Part("q2", "fox", "subject"), Part("q3", "forest", "setting")]
    grounded, attribution = ground(
        parts,
        [("A", {"q1": 0.9, "q2": 0.2, "q3": 0.1}), ("B", {"q1": 0.1, "q2": 0.8, "q3": 0.6}), ("C", {})],
    )
    assert [(g.ref_id, g.role, g.parts) for g in grounded] == [
        ("A", "style", ["q1"]),
        ("B", "subject", ["q2", "q3"]),
        ("C", "subject", []),
    ]
    assert [g.weight for g in grounded] == [pytest.approx(0.3 + 0.6 * 0.9), pytest.approx(0.3 + 0.6 * 0.8), 0.0]
    assert [(a.sub_query_id, a.ref_id) for a in attribution] == [("q1", "A"), ("q2", "B"), ("q3", "B")]
    _, unattributed = ground([Part("q1", "owl", "subject")], [("A", {"q1": 0.0})])
    assert unattributed[0].ref_id is None
    with pytest.raises(ValueError, match="unique"):
        ground([Part("q1", "a", "subject"), Part("q1", "b", "style")], [])
