"""POST /search/hybrid on a 30-image fixture library, tiny random-weight model."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.search.calibration import calibrate, calibration_bounds
from app.search.hybrid import QueryInputs
from tests.api.conftest import data_url, png_bytes
from tests.conftest import shape_image

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
    assert out["requestId"] and set(out["timings"]) == {"encodeMs", "searchMs", "rerankMs", "totalMs"}
    for hit in out["hits"]:
        total = sum(v["calibrated"] * v["weight"] for v in hit["views"].values())
        assert hit["score"] == pytest.approx(total, abs=1e-5)
        assert hit["imageUrl"] == f"/image/{hit['id']}" and hit["thumbUrl"] == f"/thumb/{hit['id']}"
        assert {"tags", "width", "height", "source", "path"} <= set(hit)
    scores = [h["score"] for h in out["hits"]]
    assert scores == sorted(scores, reverse=True)
    # The sparse tags view matches the word exactly: circles lead.
    assert "circle" in out["hits"][0]["tags"]


def test_sketch_alone_searches_the_edge_view_multipart(client: TestClient) -> None:
    sketch = shape_image(0, 3)
    r = client.post(
        "/search/hybrid",
        files={"sketch": ("s.png", png_bytes(sketch), "image/png")},
        data={"wImg": "0", "wEdge": "1", "wTxt": "0", "wTags": "0", "limit": "4"},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["weights"] == {"edge": 1.0}
    assert all(set(h["views"]) == {"edge"} for h in out["hits"])


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
    assert set(out["weights"]) == {"image", "edge", "text", "tags"}
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
        ({"queryText": "x", "unknownField": 1}, 422, "unknownField"),
    ],
)
def test_bad_input_gets_a_json_4xx_saying_what_is_wrong(
    client: TestClient, body: dict[str, Any], status: int, needle: str
) -> None:
    r = client.post("/search/hybrid", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert needle in err["message"] or needle in json.dumps(err["details"])
    assert r.headers["x-request-id"]


def test_malformed_json_and_wrong_content_type_are_4xx(client: TestClient) -> None:
    r = client.post("/search/hybrid", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
    r = client.post("/search/hybrid", content=b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_oversized_upload_is_413(client: TestClient) -> None:
    limit = client.app.state.settings.MAX_UPLOAD_BYTES  # type: ignore[attr-defined]
    r = client.post(
        "/search/hybrid", files={"sketch": ("s.png", b"\x89PNG" + b"0" * limit, "image/png")}, data={"wEdge": "1"}
    )
    assert r.status_code == 413
