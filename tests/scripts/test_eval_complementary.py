"""The compositional query set of scripts/eval_complementary.py, on hand-made tags."""

from __future__ import annotations

from eval_complementary import compositional_queries, prompt_of

TAGS = {
    "1": {"fox", "owl"},
    "2": {"forest"},
    "3": {"owl", "forest"},
    "4": {"camera"},
    "5": {"long_hair", "hair"},
    "6": {"circle"},
    "7": {"square"},
    "8": {"triangle"},
}


def test_queries_combine_tags_that_no_single_image_has_all_of() -> None:
    queries = compositional_queries(TAGS, sizes=(2, 3), max_queries=20, max_df=1.0, seed=1)
    assert queries and len(queries) == len({frozenset(q) for q in queries})
    assert {len(q) for q in queries} == {2, 3}
    for q in queries:
        assert not any(set(q) <= tags for tags in TAGS.values())
        assert not {"long_hair", "hair"} <= set(q)  # one word, not two parts
    assert queries == compositional_queries(TAGS, sizes=(2, 3), max_queries=20, max_df=1.0, seed=1)


def test_frequent_tags_are_left_out_and_prompts_read_as_lists() -> None:
    queries = compositional_queries(TAGS, sizes=(2,), max_queries=50, max_df=0.15, seed=0)
    assert all(not {"owl", "forest"} & set(q) for q in queries)  # each on 2 of 8 images
    assert prompt_of(("fox", "long_hair", "camera")) == "fox, long hair and camera"
    assert compositional_queries({}, max_queries=5) == []
