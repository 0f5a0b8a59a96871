"""The one query encoder: a batch encodes as one query at a time does, with fewer forwards,
and a search over a pre-encoded query is the search over its inputs."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from app.embedding import Encoders, TextEncoder
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import read_manifest
from app.search.encoder import EncodedQuery, QueryEncoder, QueryInputs
from app.search.hybrid import HybridSearcher
from app.search.models import HybridQuery
from app.storage.edge import EdgeStore
from app.storage.types import DENSE_VIEWS
from tests.support.images import shape_image
from tests.support.settings import tiny_settings


class CountingTower:
    """Wraps a tower's encode method and records the size of every forward."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, obj: object, method: str) -> None:
        self.sizes: list[int] = []
        inner = getattr(obj, method)

        def counted(batch: Sequence[object]) -> np.ndarray:
            self.sizes.append(len(batch))
            return np.asarray(inner(batch))

        monkeypatch.setattr(obj, method, counted)


class HashTextEncoder(TextEncoder):
    """A `text` view encoder other than CLIP's text tower (like a sentence-transformers model):
    a unit vector seeded by the text, so equal texts get equal vectors in any batch."""

    name = "hash-text"
    dim = 24

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.sizes.append(len(texts))
        rows = np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=self.dim) for t in texts])
        unit: np.ndarray = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
        return unit


def _queries() -> list[QueryInputs]:
    sketch = shape_image(2, 5)
    return [
        QueryInputs(text="a red circle"),
        QueryInputs(sketch=sketch),
        QueryInputs(text="a red circle", sketch=sketch),  # shares its text and its sketch with the two above
        QueryInputs(image=shape_image(0, 9)),
        QueryInputs(text="a box", negative_text="noise", image=shape_image(1, 3)),
        QueryInputs(negative_text="pointy"),
        QueryInputs(),
    ]


def _assert_same(a: EncodedQuery, b: EncodedQuery) -> None:
    for side in ("positives", "negatives"):
        got, want = getattr(a, side), getattr(b, side)
        assert set(got) == set(want) == set(DENSE_VIEWS)
        for view in DENSE_VIEWS:
            assert len(got[view]) == len(want[view]), (side, view)
            for x, y in zip(got[view], want[view], strict=True):
                np.testing.assert_allclose(x, y, atol=1e-5, err_msg=f"{side} {view}")
    assert a.sparse == b.sparse


@pytest.mark.parametrize("views", [("image", "edge", "text", "shape", "tags"), ("edge", "text"), ("shape",)])
def test_encode_many_gives_each_query_what_encode_gives_it(encoders: Encoders, views: tuple[str, ...]) -> None:
    encoder = QueryEncoder(encoders)
    queries = _queries()
    batched = encoder.encode_many(queries, views)
    assert len(batched) == len(queries)
    for q, got in zip(queries, batched, strict=True):
        _assert_same(got, encoder.encode(q, views))
    # Only the views asked for are computed.
    fed = {v for e in batched for v, vecs in e.positives.items() if vecs} | ({"tags"} if batched[0].sparse else set())
    assert fed <= set(views)


def test_encode_many_runs_one_image_forward_and_one_text_forward_for_a_shared_text_tower(
    encoders: Encoders, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert encoders.text is encoders.clip  # TEXT_MODEL=clip: both text views are one tower
    encoder = QueryEncoder(encoders)
    queries = _queries()
    images = CountingTower(monkeypatch, encoders.clip, "encode_images")
    texts = CountingTower(monkeypatch, encoders.clip, "encode_texts")

    encoder.encode_many(queries)
    # Pictures: the image query's picture and edge map, the sketch (shared by two queries,
    # prepared once), the third query's picture and edge map. Texts: four distinct ones.
    assert images.sizes == [5]
    assert texts.sizes == [4]

    images.sizes.clear()
    texts.sizes.clear()
    for q in queries:
        encoder.encode(q)
    assert len(images.sizes) == 4 and sum(images.sizes) == 6, "one at a time: a forward per query with pictures"
    assert len(texts.sizes) == 4, "one at a time: a forward per query with texts"


def test_encode_many_runs_one_forward_per_text_encoder(encoders: Encoders) -> None:
    hashed = HashTextEncoder()
    two = Encoders(clip=encoders.clip, text=hashed, text_template=encoders.text_template)
    encoder = QueryEncoder(two)
    queries = _queries()
    batched = encoder.encode_many(queries, ("image", "text"))
    assert hashed.sizes == [4], "one forward of the `text` view's encoder for every distinct text"
    for q, got in zip(queries, batched, strict=True):
        _assert_same(got, encoder.encode(q, ("image", "text")))
    np.testing.assert_allclose(batched[0].positives["text"][0], hashed.encode_texts(["a red circle"])[0])
    assert batched[0].positives["image"][0].shape == (encoders.clip.dim,), "the `image` view stays on CLIP"


def test_an_empty_batch_encodes_nothing(encoders: Encoders, monkeypatch: pytest.MonkeyPatch) -> None:
    images = CountingTower(monkeypatch, encoders.clip, "encode_images")
    texts = CountingTower(monkeypatch, encoders.clip, "encode_texts")
    assert QueryEncoder(encoders).encode_many([]) == []
    assert QueryEncoder(encoders).encode_many([QueryInputs()])[0].vectors() == {}
    assert images.sizes == [] and texts.sizes == []


@pytest.fixture
def searcher(encoders: Encoders, image_folder: Path, tmp_path: Path) -> HybridSearcher:
    store = EdgeStore(tmp_path / "edge", "c")
    items = list(read_manifest(image_folder / "manifest.jsonl"))[:30]
    Ingestor(encoders, store, IngestOptions(images_root=image_folder)).run(items)
    return HybridSearcher(encoders, store, tiny_settings(tmp_path))


@pytest.mark.parametrize(
    "query",
    [
        {"queryText": "circle round", "wImg": 1, "wEdge": 1, "wTxt": 1, "wTags": 1, "wShape": 0.5},
        {"queryText": "box", "negativeText": "noise", "wImg": 1, "wEdge": 0, "wTxt": 0.5, "rerank": False},
        {"wShape": 1, "wEdge": 0.5, "wImg": 0, "wTxt": 0, "wTags": 0, "offset": 3},
    ],
)
def test_search_encoded_of_encode_is_search(searcher: HybridSearcher, query: dict[str, object]) -> None:
    q = HybridQuery.model_validate({**query, "limit": 12})
    inputs = QueryInputs(text=q.query_text, negative_text=q.negative_text, sketch=shape_image(1, 77))
    want = searcher.search(q, inputs)
    # Encoded for every view, as an evaluation does once for a whole weight grid.
    got = searcher.search_encoded(q, searcher.encoder.encode(inputs))
    assert len(want.hits) == 12
    assert [h.id for h in got.hits] == [h.id for h in want.hits]
    assert [h.score for h in got.hits] == pytest.approx([h.score for h in want.hits], abs=1e-6)
    assert [h.views for h in got.hits] == [h.views for h in want.hits]
    assert got.weights == want.weights and got.next_cursor == want.next_cursor


def test_search_encoded_adds_example_ids_without_changing_the_encoded_query(searcher: HybridSearcher) -> None:
    example = searcher.search(HybridQuery(limit=1, w_tags=1), QueryInputs(text="pointy")).hits[0].id
    q = HybridQuery.model_validate({"queryText": "box", "positiveIds": [example], "limit": 8})
    encoded = searcher.encoder.encode(QueryInputs(text="box"))
    before = {v: len(vecs) for v, vecs in encoded.positives.items()}
    got = searcher.search_encoded(q, encoded)
    assert {v: len(vecs) for v, vecs in encoded.positives.items()} == before
    assert example not in [h.id for h in got.hits]
    assert [h.id for h in got.hits] == [h.id for h in searcher.search(q, QueryInputs(text="box")).hits]
    # Reused, it gives the same answer again (an evaluation runs one encoding under many weights).
    assert [h.id for h in searcher.search_encoded(q, encoded).hits] == [h.id for h in got.hits]
