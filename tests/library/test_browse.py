"""GET /images (pages), DELETE /images/{id}, GET /search (text views only)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.embedding import Encoders
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import Item
from tests.support.images import shape_image


def _all_pages(client: TestClient, **params: Any) -> tuple[list[dict[str, Any]], int, int]:
    items: list[dict[str, Any]] = []
    cursor, pages, total = None, 0, -1
    while True:
        r = client.get("/images", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        total, cursor, pages = body["total"], body["nextCursor"], pages + 1
        if cursor is None:
            return items, total, pages
        assert pages < 50, "the cursor must advance"


def test_listing_pages_through_every_item_once(client: TestClient, planted: dict[str, Any]) -> None:
    items, total, pages = _all_pages(client, limit=4)
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) == total >= 11
    assert pages == -(-total // 4)
    first = items[0]
    assert first["imageUrl"] == f"/image/{first['id']}" and first["thumbUrl"] == f"/thumb/{first['id']}"
    assert {"tags", "width", "height", "source", "library"} <= first.keys()


def test_listing_filters_by_library_and_tag(client: TestClient, planted: dict[str, Any]) -> None:
    other, total, _ = _all_pages(client, library="other")
    assert total == 1 and other[0]["id"] == planted["pid"]("planted/exact_copy.png", "other")
    circles, total, _ = _all_pages(client, library="default", tag="Circle", limit=2)
    assert total == len(circles) == 4  # three circle pictures and the near copy
    assert all("circle" in i["tags"] and i["library"] == "default" for i in circles)
    assert client.get("/images", params={"tag": "no-such-tag"}).json() == {
        "items": [],
        "nextCursor": None,
        "total": 0,
    }


def test_listing_refuses_a_cursor_it_did_not_issue(client: TestClient) -> None:
    r = client.get("/images", params={"cursor": "not-a-cursor"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor"
    assert client.get("/images", params={"limit": 0}).status_code == 422


def _add(root: Path, encoders: Encoders, store: Any, rel: str, seed: int, library: str, owned: bool) -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        shape_image(seed % 3, seed).save(path)
    report = Ingestor(encoders, store, IngestOptions(library=library, images_root=root, source="upload")).run(
        [Item(path, ["scratch"])]
    )
    pid = report.ids[0]
    if owned:
        store.set_payload([pid], {"owned": True})
    return pid


def test_delete_moves_an_item_to_the_trash_and_restore_brings_it_back(
    client: TestClient, planted: dict[str, Any], encoders: Encoders
) -> None:
    root = planted["root"]
    pid = _add(root, encoders, planted["store"], "scratch/linked.png", 101, "scratch", owned=False)
    assert client.get(f"/thumb/{pid}").status_code == 200
    r = client.delete(f"/images/{pid}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("id", "thumbnailRemoved", "fileRemoved", "fileKeptReason", "trashed")} == {
        "id": pid,
        "thumbnailRemoved": True,
        "fileRemoved": False,
        "fileKeptReason": "in the trash",
        "trashed": True,
    }
    assert body["purgeAt"] is not None
    assert (root / "scratch/linked.png").is_file()
    assert not client.app.state.services.thumbs.path_for(pid).exists()  # type: ignore[attr-defined]
    assert client.get(f"/image/{pid}").status_code == 404
    assert client.delete(f"/images/{pid}").status_code == 404
    assert pid in [i["id"] for i in client.get("/trash").json()["items"]]
    assert client.get(f"/trash/{pid}/thumb").status_code == 200

    restored = client.post(f"/images/{pid}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["id"] == pid and restored.json()["tags"] == ["scratch"]
    assert client.get(f"/image/{pid}").status_code == 200
    assert pid not in [i["id"] for i in client.get("/trash").json()["items"]]
    assert client.post(f"/images/{pid}/restore").status_code == 404
    # Its vectors came back too: the sparse tag view and the picture find it.
    hits = client.get("/search", params={"query": "scratch", "limit": 50}).json()["hits"]
    assert pid in [h["id"] for h in hits]
    client.delete(f"/images/{pid}")


def test_a_purged_owned_file_goes_once_no_item_and_no_trashed_item_uses_it(
    client: TestClient, planted: dict[str, Any], encoders: Encoders
) -> None:
    root, store = planted["root"], planted["store"]
    trash = client.app.state.services.trash  # type: ignore[attr-defined]
    first = _add(root, encoders, store, "uploads/mine.png", 102, "scratch-a", owned=True)
    second = _add(root, encoders, store, "uploads/mine.png", 102, "scratch-b", owned=True)
    assert client.delete(f"/images/{first}").json()["trashed"] is True
    assert client.delete(f"/images/{second}").json()["trashed"] is True
    real = trash.clock
    try:
        trash.clock = lambda: real() + trash.ttl_s + 1
        expired = trash.purge_expired()
    finally:
        trash.clock = real
    assert expired >= 2
    assert not (root / "uploads/mine.png").exists()
    assert client.post(f"/images/{first}/restore").status_code == 404
    assert trash.purge_expired() == 0, "a purge again finds nothing left to do"


def test_a_delete_cut_off_before_the_point_goes_leaves_no_thumbnail_of_no_point(
    planted: dict[str, Any], encoders: Encoders
) -> None:
    """As if the process died inside the store's delete: the thumbnail is already gone (it is
    made again on demand), so the cache never holds a thumbnail no point owns."""
    from app.library.browse import delete_image
    from app.storage.thumbs import ThumbnailCache

    root, store = planted["root"], planted["store"]
    pid = _add(root, encoders, store, "scratch/cut.png", 103, "scratch", owned=False)
    thumbs = ThumbnailCache(root / "thumbs-cut", 64)
    thumbs.get(pid, root / "scratch/cut.png", 10**8)
    assert thumbs.path_for(pid).is_file()

    class Killed(BaseException):
        pass

    real = store.delete

    def die(ids: Any) -> None:
        raise Killed

    store.delete = die
    try:
        try:
            delete_image(store, thumbs, root, pid)
        except Killed:
            pass
    finally:
        store.delete = real
    assert store.retrieve([pid]), "the point is still there"
    assert not thumbs.path_for(pid).exists(), "and its thumbnail went first"


def test_delete_answers_404_and_422_for_unknown_and_malformed_ids(client: TestClient) -> None:
    assert client.delete(f"/images/{uuid.uuid4()}").status_code == 404
    assert client.delete("/images/not-a-uuid").status_code == 422


def test_get_search_uses_the_text_views_only(client: TestClient, planted: dict[str, Any]) -> None:
    r = client.get("/search", params={"query": "square", "limit": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["weights"]) <= {"image", "text", "tags"} and "edge" not in body["weights"]
    assert 1 <= len(body["hits"]) <= 3
    assert "square" in body["hits"][0]["tags"], "the sparse tags view finds the exact tag first"
    other = client.get("/search", params={"query": "square", "library": "other"}).json()
    assert [h["id"] for h in other["hits"]] == [planted["pid"]("planted/exact_copy.png", "other")]
    assert client.get("/search", params={"query": ""}).status_code == 422
    assert client.get("/search").status_code == 422
