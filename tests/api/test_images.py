"""GET /image, /thumb, /info: safe file serving, caching headers, ranges."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.imaging import ImageSlots
from app.storage.types import PointRecord


def test_image_streams_the_original_with_type_etag_and_ranges(client: TestClient, library: dict[str, Any]) -> None:
    pid = library["ids"][0]
    original = (library["root"] / library["rows"][0]["path"]).read_bytes()
    r = client.get(f"/image/{pid}")
    assert r.status_code == 200
    assert r.content == original
    assert r.headers["content-type"] == "image/png"
    assert r.headers["etag"] and "max-age" in r.headers["cache-control"]
    part = client.get(f"/image/{pid}", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == original[:10]
    again = client.get(f"/image/{pid}", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("route", ["image", "thumb"])
def test_head_answers_as_get_without_a_body(client: TestClient, library: dict[str, Any], route: str) -> None:
    pid = library["ids"][0]
    got = client.get(f"/{route}/{pid}")
    head = client.head(f"/{route}/{pid}")
    assert head.status_code == 200, head.text
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "cache-control"):
        assert head.headers[name] == got.headers[name]
    assert client.head(f"/{route}/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize("route", ["image", "thumb"])
def test_served_images_forbid_content_sniffing(client: TestClient, library: dict[str, Any], route: str) -> None:
    pid = library["ids"][0]
    r = client.get(f"/{route}/{pid}")
    assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
    again = client.get(f"/{route}/{pid}", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.headers["x-content-type-options"] == "nosniff"


def test_thumb_is_generated_once_and_cached(client: TestClient, library: dict[str, Any]) -> None:
    pid = library["ids"][1]
    r = client.get(f"/thumb/{pid}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    cached = client.app.state.services.thumbs.path_for(pid)  # type: ignore[attr-defined]
    assert cached.is_file()
    mtime = cached.stat().st_mtime_ns
    assert client.get(f"/thumb/{pid}").content == r.content
    assert cached.stat().st_mtime_ns == mtime, "served from the cache, not regenerated"


@pytest.mark.parametrize("route", ["image", "thumb"])
def test_unknown_and_malformed_ids_are_4xx(client: TestClient, route: str) -> None:
    assert client.get(f"/{route}/{uuid.uuid4()}").status_code == 404
    assert client.get(f"/{route}/not-a-uuid").status_code == 422
    assert client.get(f"/{route}/..%2F..%2Fetc%2Fpasswd").status_code in (404, 422)


@pytest.mark.parametrize(
    "stored_path",
    [
        "../outside.png",
        "/etc/passwd",
        "circle/../../outside.png",
        "a\x00b.png",
        "..\\outside.png",
        "circle%2F..%2F..%2Foutside.png",
    ],
)
@pytest.mark.parametrize("route", ["image", "thumb"])
def test_payload_paths_that_escape_the_root_are_refused(
    client: TestClient, library: dict[str, Any], stored_path: str, route: str
) -> None:
    (library["root"].parent / "outside.png").write_bytes((library["root"] / library["rows"][0]["path"]).read_bytes())
    pid = str(uuid.uuid4())
    library["store"].upsert([PointRecord(pid, {"image": [0.1] * 32}, {"path": stored_path, "tags": []})])
    try:
        r = client.get(f"/{route}/{pid}")
        assert r.status_code == 403, r.text
        assert r.json()["code"] == "forbidden"
    finally:
        library["store"].delete([pid])


@pytest.mark.parametrize("route", ["image", "thumb"])
def test_symlinks_pointing_outside_the_root_are_refused(
    client: TestClient, library: dict[str, Any], route: str
) -> None:
    secret = library["root"].parent / "secret.png"
    secret.write_bytes((library["root"] / library["rows"][0]["path"]).read_bytes())
    link = library["root"] / "link.png"
    if not link.exists():
        os.symlink(secret, link)
    pid = str(uuid.uuid4())
    library["store"].upsert([PointRecord(pid, {"image": [0.1] * 32}, {"path": "link.png", "tags": []})])
    try:
        r = client.get(f"/{route}/{pid}")
        assert r.status_code == 403
        # The stored path is the server's layout: the answer names the image, not the file.
        assert "link.png" not in r.text and pid in r.text
    finally:
        library["store"].delete([pid])


def test_missing_file_is_404(client: TestClient, library: dict[str, Any]) -> None:
    pid = str(uuid.uuid4())
    library["store"].upsert([PointRecord(pid, {"image": [0.1] * 32}, {"path": "gone.png", "tags": []})])
    try:
        r = client.get(f"/image/{pid}")
        assert r.status_code == 404 and "gone.png" not in r.text
    finally:
        library["store"].delete([pid])


def test_info_reports_collection_model_and_sizes(client: TestClient) -> None:
    info = client.get("/info").json()
    assert info["points"] == 30
    assert info["model"] == "clippy-tiny" and info["pretrained"] == "random" and info["randomWeights"] is True
    assert info["vectors"] == {"image": 32, "edge": 32, "text": 32, "shape": 576}
    assert info["sparse"] == ["tags"] and info["edgeVersion"]
    assert info["usable"] is True


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_a_collection_of_another_model_answers_409(tmp_path: Path, encoders: Any) -> None:
    from app.api.app import create_app
    from app.services import Services
    from app.storage.edge import EdgeStore
    from app.storage.schema import CollectionSchema
    from tests.support.settings import tiny_settings

    settings = tiny_settings(tmp_path)
    store = EdgeStore(settings.QDRANT_PATH, settings.COLLECTION)
    store.ensure(CollectionSchema(32, 32, {**encoders.space(), "model": "ViT-H-14"}), writing=True)
    services = Services.open(settings, encoders=encoders, store=store)
    with TestClient(create_app(settings, services)) as c:
        r = c.post("/search/hybrid", json={"queryText": "x"})
        assert r.status_code == 409
        assert "ViT-H-14" in r.json()["detail"]
        assert c.get("/readyz").status_code == 503
    store.close()


def test_a_thumbnail_is_made_under_an_image_slot_and_served_from_the_cache_without_one(
    client: TestClient, library: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Making a thumbnail decodes the original whole: like an upload, it waits for one of the
    IMAGE_SLOTS (busy → 503 + Retry-After); a cached thumbnail needs no slot."""
    services = client.app.state.services  # type: ignore[attr-defined]
    made, fresh = library["ids"][3], library["ids"][4]
    services.thumbs.invalidate(fresh)
    assert client.get(f"/thumb/{made}").status_code == 200  # cached now
    real = services.image_slots
    monkeypatch.setattr(services, "image_slots", ImageSlots(slots=0, wait_s=0.05))  # every slot taken
    busy = client.get(f"/thumb/{fresh}")
    assert busy.status_code == 503 and busy.json()["code"] == "busy" and busy.headers["retry-after"]
    assert client.get(f"/thumb/{made}").status_code == 200, "a cached thumbnail needs no slot"
    assert not services.thumbs.path_for(fresh).exists(), "nothing was made while the slot was taken"
    monkeypatch.setattr(services, "image_slots", real)
    assert client.get(f"/thumb/{fresh}").status_code == 200 and services.thumbs.path_for(fresh).is_file()
