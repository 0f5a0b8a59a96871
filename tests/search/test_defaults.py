"""app/search/defaults.py: query kinds, the shipped table, and the no-signal rule."""

from __future__ import annotations

import pytest

from app.search.defaults import (
    KINDS,
    DefaultsTable,
    KindDefaults,
    SearchDefaults,
    load_table,
    query_kind,
    views_without_signal,
)


def _row(image: float = 0, edge: float = 0, shape: float = 0, text: float = 0, tags: float = 0) -> dict[str, float]:
    return {"image": image, "edge": edge, "shape": shape, "text": text, "tags": tags}


TABLE = DefaultsTable(
    {
        "sketch": KindDefaults(_row(edge=1, shape=1)),
        "text": KindDefaults(_row(image=1, text=1, tags=0.5)),
        "sketch+text": KindDefaults(_row(image=1, edge=1, shape=1, text=1, tags=1), rerank=False),
        "image": KindDefaults(_row(image=1, edge=0.5, shape=0.25)),
        "examples": KindDefaults(_row(image=1, text=1)),
    },
    source="a test",
)


def test_the_kind_names_the_inputs_sent_in_a_fixed_order() -> None:
    assert query_kind({"text", "sketch"}) == "sketch+text"
    assert query_kind({"image", "text"}) == "text+image"
    assert query_kind(set(), examples=True) == "examples"
    assert query_kind({"sketch"}, examples=True) == "sketch", "ids beside an input keep its kind"
    with pytest.raises(ValueError, match="negative"):
        query_kind({"negative"})


def test_a_kind_missing_from_the_table_takes_the_largest_default_of_its_parts() -> None:
    mixed = TABLE.for_kind("text+image")
    assert mixed.weights == _row(image=1, edge=0.5, shape=0.25, text=1, tags=0.5)
    assert mixed.rerank is True


def test_random_weights_zero_the_image_tower_views_and_the_clip_text_view() -> None:
    assert views_without_signal(False, True) == {}
    assert set(views_without_signal(True, False)) == {"image", "edge"}
    assert set(views_without_signal(True, True)) == {"image", "edge", "text"}
    defaults = SearchDefaults(TABLE, views_without_signal(True, False))
    resolved = defaults.resolve("sketch", {}, None)
    assert resolved.weights == _row(shape=1)
    assert len(resolved.notes) == 1 and "`edge`" in resolved.notes[0] and "wEdge" in resolved.notes[0]
    text = defaults.resolve("text", {}, None)
    assert text.weights == _row(text=1, tags=0.5)
    assert "`image`" in text.notes[0] and "`edge`" not in text.notes[0], "notes name only the views the query feeds"


def test_sent_weights_and_rerank_are_used_as_sent() -> None:
    defaults = SearchDefaults(TABLE, views_without_signal(True, True))
    resolved = defaults.resolve("sketch+text", {"edge": 2.0, "tags": 0.0}, True)
    assert resolved.weights == _row(edge=2, shape=1)
    assert resolved.rerank is True
    assert defaults.resolve("sketch+text", {}, None).rerank is False
    assert "`edge`" not in " ".join(resolved.notes) and "`text`" in resolved.notes[0]


def test_a_kind_whose_every_view_lacks_signal_keeps_the_table_row_and_says_so() -> None:
    table = DefaultsTable({**TABLE.kinds, "sketch": KindDefaults(_row(edge=1))}, "a test")
    resolved = SearchDefaults(table, views_without_signal(True, False)).resolve("sketch", {}, None)
    assert resolved.weights == _row(edge=1)
    assert "no other view" in resolved.notes[0]


def test_describe_gives_wire_names_and_zero_for_views_a_kind_does_not_feed() -> None:
    out = SearchDefaults(TABLE, {}).describe()
    assert set(out) == set(KINDS)
    assert out["text"]["weights"] == {"wImg": 1, "wEdge": 0, "wShape": 0, "wTxt": 1, "wTags": 0.5}
    assert out["sketch+text"]["rerank"] is False


def test_a_table_with_a_missing_kind_or_a_misspelt_view_is_refused() -> None:
    with pytest.raises(ValueError, match="examples"):
        DefaultsTable({k: v for k, v in TABLE.kinds.items() if k != "examples"}, "x")
    data = TABLE.to_json()
    data["kinds"]["sketch"]["weights"]["shap"] = 1
    with pytest.raises(ValueError, match="shap"):
        DefaultsTable.from_json(data)
    assert DefaultsTable.from_json(TABLE.to_json()) == TABLE


def test_the_shipped_table_loads_and_cites_its_run() -> None:
    table = load_table()
    assert set(KINDS) <= set(table.kinds)
    assert "evaluate.py" in table.source
    # With random weights here every kind still has a view with signal by default.
    defaults = SearchDefaults(table, views_without_signal(True, False))
    for kind in KINDS:
        weights = defaults.for_kind(kind).weights
        assert weights["image"] == weights["edge"] == 0
        assert any(w > 0 for w in weights.values()), kind
