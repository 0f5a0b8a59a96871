"""POST /atlas: a page of hits packed in one picture the client draws sprites from."""

from __future__ import annotations

import io
import os
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.api.app import create_app
from app.embedding import Encoders
from app.errors import NotFoundError
from app.library.atlas import AtlasFiles, build_atlas
from app.services import Services


def _page(client: TestClient, url: str) -> Image.Image:
    r = client.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    return Image.open(io.BytesIO(r.content)).convert("RGB")


def test_an_atlas_packs_the_hits_in_order_and_each_sprite_is_its_thumbnail(
    client: TestClient, library: dict[str, Any]
) -> None:
    ids = library["ids"][:12]
    unknown = str(uuid.uuid4())
    r = client.post("/atlas", json={"ids": [*ids, unknown, ids[0]], "cell": 64})
    assert r.status_code == 200, r.text
    atlas = r.json()
    assert atlas["cell"] == 64 and atlas["missing"] == [unknown]
    assert list(atlas["sprites"]) == ids, "every readable id once, in the order asked"
    (meta,) = atlas["pages"]
    page = _page(client, meta["url"])
    assert page.size == (meta["width"], meta["height"])
    columns = meta["width"] // 64
    for k, pid in enumerate(ids):
        s = atlas["sprites"][pid]
        # In its own cell (k-th in reading order), inside the padding.
        cx, cy = (k % columns) * 64, (k // columns) * 64
        pad = atlas["padding"]
        assert cx + pad <= s["x"] and s["x"] + s["w"] <= cx + 64 - pad
        assert cy + pad <= s["y"] and s["y"] + s["h"] <= cy + 64 - pad
        # Its pixels are that image's thumbnail: JPEG twice over and noisy test pictures,
        # so close in correlation, not equal; and more like its own than the next one's.
        own, other = (_thumb(client, p, s["w"], s["h"]) for p in (pid, ids[(k + 1) % len(ids)]))
        sprite = np.asarray(page.crop((s["x"], s["y"], s["x"] + s["w"], s["y"] + s["h"])), dtype=np.float64)
        assert _corr(sprite, own) > 0.8 and _corr(sprite, own) > _corr(sprite, other) + 0.2, pid


def _thumb(client: TestClient, pid: str, w: int, h: int) -> np.ndarray:
    thumb = Image.open(io.BytesIO(client.get(f"/thumb/{pid}").content)).convert("RGB")
    return np.asarray(thumb.resize((w, h), Image.Resampling.LANCZOS), dtype=np.float64)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_the_default_cell_follows_thumb_size_and_every_request_gets_fresh_pages(
    client: TestClient, library: dict[str, Any]
) -> None:
    one = client.post("/atlas", json={"ids": library["ids"][:3]}).json()
    two = client.post("/atlas", json={"ids": library["ids"][:3]}).json()
    assert one["cell"] == min(256, library["settings"].THUMB_SIZE) // 16 * 16
    # A rebuilt atlas (say after a delete) never meets a browser's cached copy of the old one.
    assert one["pages"][0]["url"] != two["pages"][0]["url"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": []}, "ids"),
        ({"ids": ["not-a-uuid"]}, "ids"),
        ({"ids": [str(uuid.uuid4())], "cell": 100}, "cell"),
        ({"ids": [str(uuid.uuid4())], "cell": 16}, "cell"),
        ({"ids": [str(uuid.uuid4())], "cell": 4096}, "cell"),
        ({"ids": [str(uuid.uuid4())], "size": 3}, "size"),
    ],
)
def test_bad_atlas_requests_are_422_naming_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    r = client.post("/atlas", json=body)
    assert r.status_code == 422, r.text
    assert field in r.text


def test_more_ids_than_atlas_max_ids_is_413(library: dict[str, Any], encoders: Encoders) -> None:
    settings = library["settings"].model_copy(update={"ATLAS_MAX_IDS": 3})
    services = Services.open(settings, encoders=encoders, store=library["store"])
    with TestClient(create_app(settings, services)) as c:
        r = c.post("/atlas", json={"ids": library["ids"][:4]})
    assert r.status_code == 413 and "ATLAS_MAX_IDS" in r.json()["detail"]


def test_unknown_and_malformed_page_names_are_404(client: TestClient) -> None:
    for url in ("/atlas/AAAAAAAAAAAAAAAAAAAAAAAA/0.jpg", "/atlas/..%2F..%2Fetc/passwd", "/atlas/x/0.jpg"):
        r = client.get(url)
        assert r.status_code == 404, (url, r.text)


def test_atlas_pages_expire_after_the_ttl_and_are_swept(tmp_path: Path) -> None:
    files = AtlasFiles(tmp_path / "atlas", ttl_s=60)
    atlas = build_atlas([("a", Image.new("RGB", (40, 30), "red"))], cell=32)
    token, names = files.save(atlas, owner=None)
    assert files.page(token, names[0], lambda owner: True).is_file()
    with pytest.raises(NotFoundError):
        files.page(token, names[0], lambda owner: False)  # another owner's
    old = time.time() - 120
    for path in [*(tmp_path / "atlas" / token).iterdir(), tmp_path / "atlas" / token]:
        os.utime(path, (old, old))
    with pytest.raises(NotFoundError, match="ATLAS_TTL_S"):
        files.page(token, names[0], lambda owner: True)
    fresh, _ = files.save(atlas, owner="alice")  # saving sweeps what expired
    assert sorted(p.name for p in (tmp_path / "atlas").iterdir()) == [fresh]
