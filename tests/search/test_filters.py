"""The API filter → the store's filter: values typed by their field's index, on both backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.embedding import Encoders
from app.errors import InvalidInputError
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import Item
from app.search.filters import to_store_filter
from app.search.models import SearchFilter
from app.storage.base import VectorStore
from app.storage.types import ViewQuery
from tests.support.images import shape_image


@pytest.fixture
def store(store_factory: Any, encoders: Encoders, tmp_path: Path) -> VectorStore:
    """Six pictures: widths 64 and 96, sources a / b / c."""
    root = tmp_path / "images"
    root.mkdir()
    items = []
    for i in range(6):
        path = root / f"img_{i}.png"
        shape_image(i % 5, i, size=64 if i % 2 else 96).save(path)
        items.append(Item(path, ["shape"], {"source": "abc"[i % 3]}))
    made: VectorStore = store_factory()
    report = Ingestor(encoders, made, IngestOptions(images_root=root)).run(items)
    assert report.ingested == 6
    return made


def _matching(store: VectorStore, flt: dict[str, Any]) -> list[dict[str, Any]]:
    dim = len(store.retrieve([store.scroll(limit=1)[0][0].id], with_vectors=["image"])[0].vectors["image"])
    query = ViewQuery("image", [1.0] + [0.0] * (dim - 1), 10)
    return [h.payload for h in store.search(query, to_store_filter(SearchFilter.model_validate(flt)), exact=True)]


@pytest.mark.parametrize(
    ("flt", "count"),
    [
        ({"match": {"source": ["a", "b"]}}, 4),
        ({"match": {"source": "c"}}, 2),
        ({"match": {"width": [64]}}, 3),
        ({"match": {"width": 96, "source": "a"}}, 1),
        ({"range": {"width": {"gte": 80}}}, 3),
    ],
)
def test_well_typed_filters_select_on_both_backends(store: VectorStore, flt: dict[str, Any], count: int) -> None:
    assert len(_matching(store, flt)) == count


@pytest.mark.parametrize(
    ("flt", "needle"),
    [
        ({"match": {"source": ["a", 1]}}, "keyword field"),
        ({"match": {"source": [True]}}, "keyword field"),
        ({"match": {"width": [True, False]}}, "integer field"),
        ({"match": {"width": ["64", 96]}}, "integer field"),
        ({"match": {"height": 2**63}}, "64-bit"),
        ({"match": {"colour": "red"}}, "no payload index"),
        ({"match": {"source": []}}, "empty list"),
        ({"range": {"width": {"gte": float("inf")}}}, "finite"),
    ],
)
def test_values_of_the_wrong_type_are_refused_before_the_engine_sees_them(
    store: VectorStore, flt: dict[str, Any], needle: str
) -> None:
    with pytest.raises(InvalidInputError) as e:
        _matching(store, flt)
    assert needle in e.value.message
    assert e.value.details["field"].startswith("filter.")
