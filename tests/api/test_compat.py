"""The compatibility router (app/api/routes/compat.py): the original client's requests as its
source sends them (GitHub killmlana/Clippy FabricSketchPad.tsx: postSearch, emitCustomizeFromSketch,
emitSubjectFromSketch), read the way it reads them; the gallery and embedding routes."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.api.routes.compat import SeedGenerate, seed_generate_request
from app.embedding import Encoders
from app.errors import WeightsUnavailableError
from tests.seeds.play import World, world
from tests.support.images import png_bytes, shape_image


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory, encoders: Encoders) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("compat"), encoders) as made:
        yield made


def _sketch() -> bytes:
    buf = io.BytesIO()
    shape_image(0, 3).save(buf, format="PNG")
    return buf.getvalue()


def client_search(client: TestClient, **fields: str) -> dict[str, Any]:
    """postSearch: the form it builds, both spellings of each weight, sketch twice."""
    form = {
        "user_id": "demo-user",
        "w_img": "0.7",
        "w_image": "0.7",
        "w_edge": "0.3",
        "w_edges": "0.3",
        "w_txt": "0.2",
        "w_text": "0.2",
        "personalize": "false",
        "meta_sketch_bytes": str(len(_sketch())),
        **fields,
    }
    files = [("sketch", ("sketch.png", _sketch(), "image/png")), ("image", ("image.png", _sketch(), "image/png"))]
    response = client.post("/search/hybrid", data=form, files=files)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_client_search_form_is_read_and_answered_in_both_shapes(w: World) -> None:
    body = client_search(w.client, query_text="circle")
    # normalizeHits: json.hits || json.results; hitImageUrl: image_url, then payload.image_url.
    assert body["results"] == body["hits"] and body["hits"]
    for hit in body["hits"]:
        assert hit["image_url"] == hit["imageUrl"] == f"/image/{hit['id']}"
        assert hit["payload"]["image_url"] == hit["image_url"]
        assert hit["payload"]["tags_all"] == hit["tags"]
        assert w.client.get(hit["image_url"]).status_code == 200
    # Its weights are Clippy's (w_img → image, …), normalised.
    assert body["weights"]["image"] > body["weights"]["edge"] > 0


def test_the_client_weights_and_tag_filters_change_the_search(w: World) -> None:
    edge_only = client_search(w.client, w_img="0", w_image="0", w_txt="0", w_text="0")
    assert "image" not in edge_only["weights"] or edge_only["weights"]["image"] == 0
    filtered = client_search(w.client, query_text="shape", tag_filters="square, triangle")
    assert filtered["hits"]
    assert all({"square", "triangle"} & set(h["tags"]) for h in filtered["hits"])
    top = client_search(w.client, query_text="shape", top="2")
    assert len(top["hits"]) == 2


def test_clippys_own_clients_keep_clippys_answer(w: World) -> None:
    response = w.client.post("/search/hybrid", json={"queryText": "circle", "limit": 3})
    assert response.status_code == 200 and "results" not in response.json()
    # The seed's fields are the seed client's: sent with camelCase ones they are still read.
    mixed = w.client.post("/search/hybrid", json={"queryText": "circle", "top": 2, "user_id": "x"})
    assert mixed.status_code == 200 and len(mixed.json()["results"]) == 2


def _data_url(color: tuple[int, int, int]) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(Image.new("RGB", (32, 32), color))).decode()


def test_generate_image_answers_b64_json_from_the_normal_job(w: World) -> None:
    hit = client_search(w.client, query_text="circle")["hits"][0]
    ref = {
        "id": hit["id"],
        "tags": hit["tags"],
        "palette": [],
        "caption": "",
        "image_url": _data_url((250, 0, 0)),
        "score": 0.4,
    }
    body = {"refs": [ref], "image_url": _data_url((255, 255, 255)), "style_tags": ["pop_art"], "n": 1, "model": "auto"}
    response = w.client.post("/generate_image", json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    image = Image.open(io.BytesIO(base64.b64decode(out["data"][0]["b64_json"])))
    # The blend generator mixes grey with the (red) reference: the data URL was the ref used.
    r, g, b = image.convert("RGB").getpixel((0, 0))  # type: ignore[misc]
    assert r > g + 50 and r > b + 50
    job = w.client.get(f"/jobs/{out['job']}").json()
    assert job["status"] == "succeeded" and job["result"]["images"][0]["url"] == out["data"][0]["url"]


def test_generate_image_answers_202_with_location_when_the_wait_runs_out(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = w.client.app.state.services.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "COMPAT_GENERATE_WAIT_S", 0.0)
    response = w.client.post("/generate_image", json={"subject_ref": {"image_url": _data_url((0, 0, 200))}, "n": 1})
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/jobs/{response.json()['id']}"


def test_generate_image_answers_503_when_the_provider_has_no_weights(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A job that failed for missing weights is the server's state, not the provider's error:
    503 with Retry-After (MODEL_RETRY_S), as /images/generate's own provider check answers."""
    services = w.client.app.state.services  # type: ignore[attr-defined]
    provider = services.generation.providers.get(services.settings.GENERATION_PROVIDER)

    def no_weights(*_: Any) -> Any:
        raise WeightsUnavailableError("SDXL_MODEL 'x' is not downloaded", model="x")

    monkeypatch.setattr(provider, "_generate", no_weights)
    response = w.client.post("/generate_image", json={"subject_ref": {"image_url": _data_url((0, 0, 200))}, "n": 1})
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "weights_unavailable" and "SDXL_MODEL" in response.json()["detail"]
    assert int(response.headers["retry-after"]) == services.settings.MODEL_RETRY_S


def test_the_seed_generate_body_maps_to_clippys_request() -> None:
    request = seed_generate_request(
        SeedGenerate.model_validate(
            {
                "refs": [{"id": 7, "image_url": "/api/image/7"}],
                "subject_ref": {"image_url": "/api/image/0b6f5c1e-4a56-4d27-9f0e-2a1f3c4d5e6f"},
                "style_tags": ["pixel_art", "line_art"],
                "subject": "a fox",
                "model": "imagen",
                "n": 2,
            }
        )
    )
    assert [(r.role, r.id, r.weight) for r in request.refs] == [
        ("style", "7", 0.7),
        ("subject", "0b6f5c1e-4a56-4d27-9f0e-2a1f3c4d5e6f", 0.8),
    ]
    assert request.prompt == "a fox. in the style of pixel art, line art"
    assert request.provider == "imagen" and request.n == 2


def test_generate_image_refuses_a_mask_it_cannot_honour_and_unknown_fields(w: World) -> None:
    masked = w.client.post(
        "/generate_image", json={"image_url": _data_url((1, 1, 1)), "mask_url": _data_url((0, 0, 0))}
    )
    assert masked.status_code == 422 and masked.json()["errors"][0]["field"] == "mask_url"
    assert w.client.post("/generate_image", json={"prompt": "x", "nope": 1}).status_code == 422


def test_a_gallery_user_is_a_library_its_imports_and_search_stay_in_it(w: World) -> None:
    made = w.client.post("/db/initialize", json={"user_name": "Ann's photos"})
    assert made.status_code == 200 and made.json()["user_id"] == "Ann_s_photos"
    again = w.client.post("/db/initialize", json={"user_name": "Ann's photos"})
    assert again.json()["user_id"] == "Ann_s_photos" and "exists" in again.json()["message"]
    user = made.json()["user_id"]
    job = w.client.post(f"/images/add-folder?user_id={user}", json={"folder_path": w.values["import_folder"]})
    assert job.status_code == 202
    done = w.client.get(job.headers["location"])
    for _ in range(100):
        if done.json()["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.05)
        done = w.client.get(job.headers["location"])
    assert done.json()["status"] == "succeeded", done.json()
    found = w.client.post(f"/images/search?user_id={user}", json={"query": "square", "top_k": 10}).json()
    assert len(found["results"]) == 2
    listed = w.client.get("/images", params={"library": user}).json()
    assert {h["id"] for h in found["results"]} == {i["id"] for i in listed["items"]}


def test_image_vectors_are_the_stored_named_vectors(w: World) -> None:
    image_id = w.values["image_id"]
    body = w.client.get(f"/images/{image_id}/vectors").json()
    assert body["id"] == image_id and body["library"] == "default"
    assert {"image", "edge"} <= set(body["vectors"])
    services = w.client.app.state.services  # type: ignore[attr-defined]
    (point,) = services.store.retrieve([image_id], with_vectors=True)
    assert body["vectors"]["image"] == pytest.approx(point.vectors["image"].tolist(), abs=1e-6)
    unknown = w.client.get("/images/00000000-0000-4000-8000-000000000000/vectors")
    assert unknown.status_code == 404
