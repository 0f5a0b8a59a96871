"""The `shape` view over HTTP: `/info` lists it, and multipart and JSON bodies take `wShape`."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.embedding.shape import SHAPE_PARAMS, SHAPE_VERSION
from tests.support.images import data_url, png_bytes, shape_image


def test_info_lists_the_shape_vector_and_its_version(client: TestClient) -> None:
    info = client.get("/info").json()
    assert info["vectors"]["shape"] == SHAPE_PARAMS.dim
    assert info["shapeVersion"] == SHAPE_VERSION


def test_a_multipart_sketch_with_only_wshape_is_searched_in_the_shape_view(client: TestClient) -> None:
    r = client.post(
        "/search/hybrid",
        files={"sketch": ("s.png", png_bytes(shape_image(2, 5)), "image/png")},
        data={"wImg": "0", "wEdge": "0", "wTxt": "0", "wTags": "0", "wShape": "1", "limit": "4"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["weights"] == {"shape": 1.0}
    assert all(set(h["views"]) == {"shape"} and h["views"]["shape"]["raw"] is not None for h in body["hits"])


def test_json_wshape_joins_the_weights_and_a_negative_one_is_refused(client: TestClient) -> None:
    img = data_url(shape_image(0, 3))
    ok = client.post("/search/hybrid", json={"image": img, "wImg": 1, "wEdge": 0, "wTxt": 0, "wTags": 0, "wShape": 1})
    assert ok.status_code == 200, ok.text
    assert ok.json()["weights"] == {"image": 0.5, "shape": 0.5}
    bad = client.post("/search/hybrid", json={"image": img, "wShape": -1})
    assert bad.status_code == 422
    assert "wShape" in bad.json()["detail"]
