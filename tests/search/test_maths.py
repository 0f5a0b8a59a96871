"""Pure functions: calibration, weighted re-rank, weights, example vectors, cursors, tag terms."""

from __future__ import annotations

import numpy as np
import pytest

from app.config import Settings
from app.embedding.tags import document_terms, query_terms, query_vector, tags_vector
from app.errors import InvalidInputError
from app.search.calibration import calibrate, calibration_bounds
from app.search.cursor import Cursor
from app.search.rerank import calibrate_view, combine, dense_scores, normalize_weights, rank, weighted_total


def test_calibration_bounds_are_mean_plus_minus_three_sigma() -> None:
    lo, hi = calibration_bounds([1.0, 2.0, 3.0])
    sd = np.std([1, 2, 3])
    assert (lo, hi) == pytest.approx((2 - 3 * sd, 2 + 3 * sd))
    with pytest.raises(ValueError, match="empty"):
        calibration_bounds([])


def test_calibration_never_clips_a_views_best_candidates_into_a_tie() -> None:
    # A view's candidate list is the top of its distribution: a few clear matches above a
    # long flat tail put mean + 3σ below the matches, where DBSF would clip them all to 1.
    raw = np.array([0.90, 0.85, 0.80] + [0.30] * 60)
    mean, sd = raw.mean(), raw.std()
    assert mean + 3 * sd < 0.80, "DBSF's upper bound falls below the three matches"
    lo, hi = calibration_bounds(raw)
    assert lo == pytest.approx(mean - 3 * sd) and hi == pytest.approx(0.90)
    out = calibrate_view(raw, 64).calibrated
    assert out[0] == 1.0 > out[1] > out[2] > out[3], "the matches keep their order"


def test_calibrate_clips_and_zeroes_missing_vectors() -> None:
    out = calibrate(np.array([0.0, 5.0, 10.0, np.nan, 20.0]), 0.0, 10.0)
    assert out.tolist() == [0.0, 0.5, 1.0, 0.0, 1.0]
    assert calibrate(np.array([3.0, 3.0, 0.0]), 3.0, 3.0).tolist() == [1.0, 1.0, 0.0]


def test_equal_weights_do_not_let_the_larger_raw_scale_win() -> None:
    # View A's raw cosines spread over 0.5..0.95, view B's over 0.10..0.20: four times less.
    rng = np.random.default_rng(0)
    n = 30
    a = np.linspace(0.5, 0.9, n)
    b = np.linspace(0.14, 0.10, n) + rng.normal(0, 0.002, n)
    a[0], b[0] = 0.95, 0.10  # best in A, poor in B
    a[1], b[1] = 0.80, 0.20  # far best in B, middling in A
    raw_sum = a + b
    assert int(np.argmax(raw_sum)) == 0, "raw sums follow the wider view"
    views = {"a": calibrate_view(a, n), "b": calibrate_view(b, n)}
    totals = weighted_total(views, {"a": 0.5, "b": 0.5})
    assert int(np.argmax(totals)) == 1, "calibrated, the item B singles out wins"
    for s in views.values():  # both views now use the same 0..1 scale
        assert s.calibrated.max() - s.calibrated.min() > 0.5


def test_weighted_total_validates_views() -> None:
    v = calibrate_view(np.array([0.1, 0.2]), 2)
    with pytest.raises(ValueError, match="same views"):
        weighted_total({"a": v}, {"b": 1.0})


def test_normalize_weights() -> None:
    assert normalize_weights({"a": 1, "b": 3, "c": 0}) == {"a": 0.25, "b": 0.75}
    with pytest.raises(ValueError, match="> 0"):
        normalize_weights({"a": 0, "b": 0})
    with pytest.raises(ValueError, match=">= 0"):
        normalize_weights({"a": -1, "b": 2})


def test_rank_breaks_ties_by_id() -> None:
    assert rank(["b", "a", "c"], np.array([1.0, 1.0, 2.0])) == [2, 1, 0]


def test_dense_scores_mark_missing_vectors() -> None:
    q = np.array([1.0, 0.0])
    out = dense_scores(q, [np.array([1.0, 0.0]), None, np.array([0.0, 1.0])])
    assert out[0] == 1.0 and np.isnan(out[1]) and out[2] == 0.0


def test_combine_averages_positives_and_pushes_away_from_negatives() -> None:
    p = [np.array([1.0, 0.0]), np.array([0.0, 1.0])]
    assert combine(p, []) == pytest.approx(np.array([1, 1]) / np.sqrt(2))
    v = combine([np.array([1.0, 0.0])], [np.array([0.0, 1.0])])
    assert v[0] > 0 and v[1] < 0 and np.linalg.norm(v) == pytest.approx(1.0)


def test_cursor_round_trips_and_orders() -> None:
    c = Cursor(0.5, "m", 7)
    assert Cursor.decode(c.encode()) == c
    assert c.after(0.4, "a") and c.after(0.5, "z") and not c.after(0.5, "a") and not c.after(0.6, "z")
    with pytest.raises(InvalidInputError):
        Cursor.decode("!!!")


def test_tag_terms_match_multiword_tags_by_phrase_and_word() -> None:
    assert document_terms(["Long Hair", "cat"]) == ["long_hair", "long", "hair", "cat"]
    assert query_terms("a cat with long hair") == ["cat", "long", "hair", "cat_long", "long_hair"]
    doc, q = tags_vector(["long_hair"]), query_vector("long hair")
    assert set(doc.indices) <= set(q.indices)
    assert tags_vector(["cat", "cat"]).values == [1.0]
    assert query_vector("the of a").indices == []


def test_sparse_non_matches_neither_score_nor_set_the_bounds() -> None:
    # Three candidates share terms with graded IDF scores; many share none (score 0).
    raw = np.array([3.0, 2.0, 1.0] + [0.0] * 30)
    counted = calibrate_view(raw, 64)  # zeros counted: they drag the lower bound down
    kept = calibrate_view(raw, 64, matched=raw > 0)
    assert counted.calibrated[3] > 0.0, "counted, non-matches even score above 0"
    assert kept.bounds == pytest.approx(calibration_bounds([3.0, 2.0, 1.0]))
    assert kept.calibrated[0] > kept.calibrated[1] > kept.calibrated[2] > kept.calibrated[3] == 0.0


def test_the_default_calibration_depth_keeps_a_clear_one_view_match_on_top() -> None:
    # Sketch+text, the fusion-vs-rerank question of issue 17 (bench/README.md): the target is
    # the sketch's clear match (`shape` 0.95, the rest ≤ 0.80) and middling for the prompt
    # (`text` rank 71 of 300); a distractor is second in both views. On 64-deep bounds the
    # `text` view's flat top gives it a spread 1.6× narrower than `shape`'s, so `text`
    # weighs more than its weight says and the target falls to 15th. Bounds over a longer list
    # (Qdrant's DBSF normalises over the whole prefetch) keep the two views on a par.
    tail = np.linspace(0.8, 0.2, 298)
    raw = {"shape": np.concatenate([[0.95, 0.8], tail]), "text": np.concatenate([[tail[70], 0.8], tail])}
    weights = {"shape": 0.5, "text": 0.5}

    def place_of_target(depth: int) -> int:
        totals = weighted_total({v: calibrate_view(r, depth) for v, r in raw.items()}, weights)
        return rank([f"{i:03d}" for i in range(len(totals))], totals).index(0)

    assert place_of_target(64) == 14
    assert place_of_target(200) == 0
    default_depth = Settings.model_fields["MIN_POOL"].default  # the depth the search calibrates on
    assert place_of_target(default_depth) == 0
