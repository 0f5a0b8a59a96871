"""POST /search/hybrid on a 30-image fixture library, tiny random-weight model."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.embedding import Encoders
from app.search.calibration import calibrate, calibration_bounds
from app.search.cursor import Cursor
from app.search.hybrid import QueryInputs
from app.search.models import HybridQuery
from app.services import Services
from tests.support.images import data_url, png_bytes, shape_image

TEXT_ONLY = {"wImg": 1, "wEdge": 0, "wTxt": 1, "wTags": 1}


def _search(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/search/hybrid", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_text_query_returns_hits_with_consistent_per_view_scores(client: TestClient) -> None:
    out = _search(client, queryText="circle", limit=5, **TEXT_ONLY)
    assert len(out["hits"]) == 5
    assert set(out["weights"]) == {"image", "text", "tags"}
    assert sum(out["weights"].values()) == pytest.approx(1.0)
    timing_keys = {"decodeMs", "encodeMs", "prepareMs", "searchMs", "rerankMs", "totalMs"}
    assert out["requestId"] and set(out["timings"]) == timing_keys
    assert out["timings"]["prepareMs"] == 0.0, "no image to prepare for a text query"
    for hit in out["hits"]:
        total = sum(v["calibrated"] * v["weight"] for v in hit["views"].values())
        assert hit["score"] == pytest.approx(total, abs=1e-5)
        assert hit["imageUrl"] == f"/image/{hit['id']}" and hit["thumbUrl"] == f"/thumb/{hit['id']}"
        assert {"tags", "width", "height", "source", "path"} <= set(hit)
        # The seed's answers carried the stored fields as `payload` (shared/seeds 002).
        assert hit["payload"] == {
            "path": hit["path"],
            "tags": hit["tags"],
            "library": "default",
            "source": hit["source"],
        }
    scores = [h["score"] for h in out["hits"]]
    assert scores == sorted(scores, reverse=True)
    # The sparse tags view matches the word exactly: circles lead.
    assert "circle" in out["hits"][0]["tags"]


def test_sketch_alone_searches_the_edge_view_multipart(client: TestClient) -> None:
    sketch = shape_image(0, 3)
    r = client.post(
        "/search/hybrid",
        files={"sketch": ("s.png", png_bytes(sketch), "image/png")},
        data={"wImg": "0", "wEdge": "1", "wShape": "0", "wTxt": "0", "wTags": "0", "limit": "4"},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["weights"] == {"edge": 1.0}
    assert all(set(h["views"]) == {"edge"} for h in out["hits"])
    t = out["timings"]  # the sketch is decoded, then normalised before the model sees it
    assert t["decodeMs"] > 0 and 0 < t["prepareMs"] < t["encodeMs"] <= t["totalMs"]


def test_example_image_finds_itself_first(client: TestClient, library: dict[str, Any]) -> None:
    from PIL import Image

    img = Image.open(library["root"] / library["rows"][7]["path"])
    out = _search(client, image=data_url(img), wImg=1, wEdge=1, wTxt=0, wTags=0, limit=3)
    assert out["hits"][0]["id"] == library["ids"][7]
    assert out["hits"][0]["views"]["image"]["raw"] == pytest.approx(1.0, abs=1e-3)


def test_all_inputs_combined(client: TestClient) -> None:
    out = _search(
        client,
        queryText="square box",
        sketch=data_url(shape_image(1, 5)),
        image=data_url(shape_image(2, 9)),
        wImg=1,
        wEdge=1,
        wTxt=1,
        wTags=1,
        limit=10,
    )
    # wShape not sent: the default for a sketch + text + image query gives it weight too.
    assert set(out["weights"]) == {"image", "edge", "text", "tags", "shape"}
    assert len(out["hits"]) == 10


def test_filters_apply_together_with_a_text_query(client: TestClient) -> None:
    out = _search(
        client, queryText="circle", limit=30, filter={"tagsAll": ["big"], "tagsNone": ["square"]}, **TEXT_ONLY
    )
    assert out["hits"], "the filter leaves matches"
    assert all("big" in h["tags"] and "square" not in h["tags"] for h in out["hits"])
    out = _search(client, queryText="shape", limit=30, filter={"match": {"source": "set1"}}, **TEXT_ONLY)
    assert len(out["hits"]) == 10 and all(h["source"] == "set1" for h in out["hits"])
    out = _search(client, queryText="shape", limit=30, filter={"tagsAny": ["triangle", "noise"]}, **TEXT_ONLY)
    assert len(out["hits"]) == 12


def test_pages_do_not_overlap_and_are_stable(client: TestClient) -> None:
    body = {"queryText": "round thing", "limit": 7, **TEXT_ONLY}
    first = _search(client, **body)
    again = _search(client, **body)
    assert [h["id"] for h in first["hits"]] == [h["id"] for h in again["hits"]]
    seen = [h["id"] for h in first["hits"]]
    cursor = first["nextCursor"]
    while cursor:
        page = _search(client, cursor=cursor, **body)
        seen += [h["id"] for h in page["hits"]]
        cursor = page["nextCursor"]
    assert len(seen) == len(set(seen)) == 30
    by_offset = _search(client, offset=7, **body)
    assert [h["id"] for h in by_offset["hits"]] == seen[7:14]


@pytest.fixture(scope="module")
def deep(library: dict[str, Any], encoders: Encoders) -> Iterator[TestClient]:
    """The 30-image library with a pool smaller than it: MIN_POOL 8, CANDIDATE_FACTOR 2."""
    settings = library["settings"].model_copy(update={"MIN_POOL": 8, "CANDIDATE_FACTOR": 2})
    services = Services.open(settings, encoders=encoders, store=library["store"])
    with TestClient(create_app(settings, services)) as c:
        yield c


DEEP_QUERIES = [
    {"queryText": "round thing", "wImg": 1, "wEdge": 0, "wTxt": 1, "wTags": 1},
    {"queryText": "box", "sketch": data_url(shape_image(1, 5)), "wImg": 1, "wEdge": 1, "wTxt": 0.5, "wTags": 0},
]


@pytest.mark.parametrize("query", DEEP_QUERIES)
def test_pages_over_a_library_bigger_than_the_pool_score_alike_and_add_up(
    deep: TestClient, query: dict[str, Any]
) -> None:
    # One request deep enough to see the whole library: the reference ranking.
    full = _search(deep, **query, limit=30)
    assert full["candidates"] == 30
    want = [(h["id"], h["score"]) for h in full["hits"]]
    by_cursor: list[tuple[str, float]] = []
    page = _search(deep, **query, limit=5)
    assert page["candidates"] < 30, "the first page's pool does not cover the library"
    while True:
        by_cursor += [(h["id"], h["score"]) for h in page["hits"]]
        if not page["nextCursor"]:
            break
        page = _search(deep, **query, limit=5, cursor=page["nextCursor"])
    by_offset = [
        (h["id"], h["score"]) for o in range(0, 30, 5) for h in _search(deep, **query, limit=5, offset=o)["hits"]
    ]
    for pages in (by_cursor, by_offset):
        ids = [i for i, _ in pages]
        assert len(ids) == len(set(ids)), "pages overlap"
        # Same items, same order, and every item scored the same on its page as in the big request.
        assert ids == [i for i, _ in want]
        assert [s for _, s in pages] == [s for _, s in want]


def test_exact_rerank_equals_numpy_brute_force(client: TestClient, library: dict[str, Any]) -> None:
    searcher = client.app.state.services.searcher  # type: ignore[attr-defined]
    text = "triangle pointy"
    out = _search(client, queryText=text, wImg=1, wEdge=0, wTxt=2, wTags=0, limit=30)
    assert out["candidates"] == 30  # the pool covers this library, so brute force sees the same set
    enc = searcher.encode(QueryInputs(text=text)).vectors()
    stored = {p.id: p for p in library["store"].retrieve(library["ids"], with_vectors=True)}
    ids = list(stored)
    totals = np.zeros(len(ids))
    for view, w in (("image", 1 / 3), ("text", 2 / 3)):
        raw = np.array([float(np.dot(enc[view], stored[i].vectors[view])) for i in ids])
        totals += w * calibrate(raw, *calibration_bounds(raw))
    want = sorted(range(len(ids)), key=lambda i: (-totals[i], ids[i]))
    assert [h["id"] for h in out["hits"]] == [ids[i] for i in want]
    np.testing.assert_allclose([h["score"] for h in out["hits"]], [totals[i] for i in want], atol=1e-5)


def test_rerank_off_ranks_by_qdrant_fusion(client: TestClient) -> None:
    on = _search(client, queryText="noise", limit=10, rerank=True, **TEXT_ONLY)
    off = _search(client, queryText="noise", limit=10, rerank=False, **TEXT_ONLY)
    assert len(off["hits"]) == 10
    assert {h["id"] for h in on["hits"]} & {h["id"] for h in off["hits"]}


def test_positive_and_negative_examples_move_results(client: TestClient, library: dict[str, Any]) -> None:
    base = _search(client, queryText="a shape", limit=30, wImg=1, wEdge=1, wTxt=0, wTags=0)
    liked = library["ids"][4]  # a noise picture
    more = _search(client, queryText="a shape", positiveIds=[liked], limit=30, wImg=1, wEdge=1, wTxt=0, wTags=0)
    assert liked not in [h["id"] for h in more["hits"]], "examples are not returned"
    rank_of = lambda out, i: [h["id"] for h in out["hits"]].index(i)  # noqa: E731
    other_noise = library["ids"][9]
    assert rank_of(more, other_noise) < rank_of(base, other_noise)
    less = _search(client, queryText="a shape", negativeIds=[liked], limit=30, wImg=1, wEdge=1, wTxt=0, wTags=0)
    assert rank_of(less, other_noise) > rank_of(more, other_noise)


def test_examples_alone_are_a_query(client: TestClient, library: dict[str, Any]) -> None:
    out = _search(client, positiveIds=[library["ids"][0]], wImg=1, wEdge=1, wTxt=1, wTags=0, limit=5)
    assert len(out["hits"]) == 5


def test_score_threshold_drops_weak_hits(client: TestClient) -> None:
    out = _search(client, queryText="circle", limit=30, scoreThreshold=0.5, **TEXT_ONLY)
    assert all(h["score"] >= 0.5 for h in out["hits"])
    assert len(out["hits"]) < 30


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"queryText": "x", "wImg": 0, "wEdge": 0, "wTxt": 0, "wTags": 0}, 422, "weight must be > 0"),
        ({"queryText": "x", "wImg": -1}, 422, "wImg"),
        ({"wImg": 1}, 422, "Nothing to search with"),
        ({"queryText": "x", "limit": 0}, 422, "limit"),
        ({"queryText": "x", "limit": 100000}, 422, "limit"),
        ({"queryText": "x", "sketch": "not a data url"}, 422, "data URL"),
        ({"queryText": "x", "sketch": "data:image/png;base64,aGVsbG8="}, 415, "not a readable image"),
        ({"queryText": "x", "filter": {"match": {"colour": "red"}}}, 422, "no payload index"),
        ({"queryText": "x", "filter": {"tagz": ["a"]}}, 422, "tagz"),
        ({"queryText": "x", "positiveIds": ["00000000-0000-0000-0000-000000000001"]}, 404, "no library items"),
        ({"queryText": "x", "cursor": "garbage"}, 422, "cursor"),
        ({"queryText": "x", "positiveIds": ["not-a-uuid"]}, 422, "'not-a-uuid' is not a library item id"),
        ({"queryText": "x", "negativeIds": ["1; DROP"]}, 422, "negativeIds"),
        ({"queryText": "x", "filter": {"match": {"source": ["a", 1]}}}, 422, "keyword field"),
        ({"queryText": "x", "filter": {"match": {"width": [True, False]}}}, 422, "integer field"),
        ({"queryText": "x", "filter": {"match": {"width": "96"}}}, 422, "integer field"),
        ({"queryText": "x", "filter": {"match": {"width": 2**70}}}, 422, "64-bit"),
        ({"queryText": "x", "filter": {"match": {"library": True}}}, 422, "keyword field"),
        ({"queryText": "x", "limit": 500}, 422, "MAX_LIMIT"),
        ({"queryText": "x", "offset": 1990, "limit": 24}, 422, "MAX_DEPTH"),
        ({"queryText": "x", "cursor": Cursor(0.5, "a", 10**12).encode()}, 422, "MAX_DEPTH"),
        ({"queryText": "x", "cursor": Cursor(0.5, "a", -5).encode()}, 422, "cursor"),
        ({"queryText": "x", "unknownField": 1}, 422, "unknownField"),
    ],
)
def test_bad_input_gets_a_json_4xx_saying_what_is_wrong(
    client: TestClient, body: dict[str, Any], status: int, needle: str
) -> None:
    r = client.post("/search/hybrid", json=body)
    assert r.status_code == status, r.text
    problem = r.json()
    assert needle in problem["detail"] or needle in json.dumps(problem["errors"])
    assert r.headers["x-request-id"]


def test_malformed_json_and_wrong_content_type_are_4xx(client: TestClient) -> None:
    r = client.post("/search/hybrid", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"
    r = client.post("/search/hybrid", content=b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_oversized_upload_is_413(client: TestClient) -> None:
    limit = client.app.state.settings.MAX_UPLOAD_BYTES  # type: ignore[attr-defined]
    r = client.post(
        "/search/hybrid", files={"sketch": ("s.png", b"\x89PNG" + b"0" * limit, "image/png")}, data={"wEdge": "1"}
    )
    assert r.status_code == 413


def test_ids_are_compared_in_their_canonical_form(client: TestClient, library: dict[str, Any]) -> None:
    liked = library["ids"][4]
    lower = _search(client, positiveIds=[liked], wImg=1, wEdge=1, wTxt=0, wTags=0, limit=5)
    upper = _search(client, positiveIds=[liked.upper()], wImg=1, wEdge=1, wTxt=0, wTags=0, limit=5)
    assert [h["id"] for h in upper["hits"]] == [h["id"] for h in lower["hits"]]
    assert liked not in [h["id"] for h in upper["hits"]], "the example is still excluded"


def test_an_empty_multipart_field_counts_as_not_sent(client: TestClient) -> None:
    sketch = ("s.png", png_bytes(shape_image(0, 3)), "image/png")
    r = client.post(
        "/search/hybrid",
        files={"sketch": sketch},
        data={
            "queryText": "",
            "negativeText": " ",
            "cursor": "",
            "wImg": "0",
            "wEdge": "1",
            "wTxt": "0",
            "wTags": "",
            "wShape": "0",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["weights"] == {"edge": 1.0}
    # Without any other input the empty text is simply no input, not malformed JSON.
    r = client.post("/search/hybrid", files={"sketch": ("", b"", "application/octet-stream")}, data={"queryText": ""})
    assert r.status_code == 422, r.text
    assert "Nothing to search with" in r.json()["detail"]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_ref_in_the_openapi_schema_resolves(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    refs = set(_refs(schema))
    assert "#/components/schemas/HybridQuery" in refs
    for ref in refs:
        node = schema
        for part in ref.removeprefix("#/").split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]
    body = schema["paths"]["/search/hybrid"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    component = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert {"queryText", "positiveIds", "filter"} <= set(component["properties"])
    # Its examples are real requests: each validates and is answered.
    assert len(component["examples"]) >= 2
    for example in component["examples"]:
        HybridQuery.model_validate(example)
        assert client.post("/search/hybrid", json=example).status_code == 200


def test_the_sketch_example_is_a_real_drawing() -> None:
    example = HybridQuery.model_json_schema()["examples"][1]["sketch"]
    assert base64.b64decode(example.split(",", 1)[1]).startswith(b"\x89PNG")


def test_weights_not_sent_give_nothing_to_random_weight_views_and_say_so(client: TestClient) -> None:
    # The fixture's model has random weights and its text view is that model's text tower.
    sketch = _search(client, sketch=data_url(shape_image(0, 3)), limit=4)
    assert sketch["weights"] == {"shape": 1.0}
    assert len(sketch["notes"]) == 1 and "`edge`" in sketch["notes"][0] and "random weights" in sketch["notes"][0]
    text = _search(client, queryText="circle", limit=4)
    assert text["weights"] == {"tags": 1.0}
    assert "`image`, `text`" in text["notes"][0] and "TEXT_MODEL=clip" in text["notes"][0]
    assert "circle" in text["hits"][0]["tags"]


def test_a_sent_weight_is_used_as_sent_even_on_a_view_without_signal(client: TestClient) -> None:
    out = _search(client, sketch=data_url(shape_image(0, 3)), wEdge=1, limit=4)
    assert out["weights"] == {"edge": 0.5, "shape": 0.5}, "wEdge as sent, wShape from the defaults"
    assert out["notes"] == []
    only = _search(client, sketch=data_url(shape_image(0, 3)), wEdge=0.5, wShape=0, limit=4)
    assert only["weights"] == {"edge": 1.0}


def test_rerank_not_sent_follows_the_kinds_default(client: TestClient) -> None:
    kinds = client.get("/info").json()["defaults"]["kinds"]
    body = {"queryText": "circle", "sketch": data_url(shape_image(0, 3)), "limit": 8}
    default = _search(client, **body)
    sent = _search(client, **body, rerank=kinds["sketch+text"]["rerank"])
    assert [h["id"] for h in default["hits"]] == [h["id"] for h in sent["hits"]]
    assert [h["score"] for h in default["hits"]] == [h["score"] for h in sent["hits"]]


def test_info_lists_the_defaults_per_query_kind(client: TestClient) -> None:
    defaults = client.get("/info").json()["defaults"]
    assert set(defaults["kinds"]) == {"sketch", "text", "sketch+text", "image", "examples"}
    assert set(defaults["withoutSignal"]) == {"image", "edge", "text"}
    for kind, row in defaults["kinds"].items():
        assert set(row["weights"]) == {"wImg", "wEdge", "wShape", "wTxt", "wTags"}
        assert row["weights"]["wImg"] == row["weights"]["wEdge"] == row["weights"]["wTxt"] == 0, kind
    assert defaults["kinds"]["sketch"]["weights"]["wShape"] > 0
    assert defaults["kinds"]["text"]["weights"]["wTags"] > 0
    assert defaults["kinds"]["text"]["weights"]["wShape"] == 0, "text does not feed `shape`"
    assert "evaluate.py" in defaults["source"]
