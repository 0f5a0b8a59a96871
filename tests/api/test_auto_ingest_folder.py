"""AUTO_INGEST of a bare IMAGES_ROOT (no manifest.jsonl): scanned in the background at start,
sub-folder names as tags, progress in /info; stopped and restarted without leftovers; a
manifest, when there is one, still wins."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.embedding import Encoders
from app.ingest.folder_scan import FolderScan
from app.ingest.target import IngestTarget
from app.library.registry import LibraryRegistry
from app.storage.edge import EdgeStore
from tests.support.images import shape_image
from tests.support.settings import tiny_settings

TEXT_ONLY = {"wImg": 1, "wEdge": 0, "wTxt": 1, "wTags": 1}


def _folder(root: Path, per_folder: int = 2) -> Path:
    for k, name in enumerate(("cats", "dogs")):
        (root / name).mkdir(parents=True)
        for i in range(per_folder):
            shape_image(k, 10 * k + i).save(root / name / f"{name}{i}.png")
    return root


def _wait(check: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


def test_a_bare_folder_is_ingested_in_the_background_with_folder_tags(tmp_path: Path, encoders: Encoders) -> None:
    root = _folder(tmp_path / "images")
    for own in ("imports/art", "generated"):  # the server's own copies: points of other libraries
        (root / own).mkdir(parents=True)
        shape_image(3, 7).save(root / own / "copy.png")
    settings = tiny_settings(tmp_path, IMAGES_ROOT=root, AUTO_INGEST=True)
    with TestClient(create_app(settings, encoders=encoders)) as client:

        def finished() -> dict[str, Any] | None:
            scan = client.get("/info").json()["autoIngest"]
            assert scan["status"] in ("scanning", "done"), scan
            return scan if scan["status"] == "done" else None

        scan = _wait(finished)
        assert (scan["found"], scan["done"], scan["failed"]) == (4, 4, 0)
        assert client.get("/info").json()["points"] == 4
        for tag in ("cats", "dogs"):
            r = client.post(
                "/search/hybrid", json={"queryText": tag, "limit": 10, "filter": {"tagsAll": [tag]}, **TEXT_ONLY}
            )
            assert r.status_code == 200, r.text
            hits = r.json()["hits"]
            assert len(hits) == 2 and all(tag in h["tags"] and h["path"].startswith(f"{tag}/") for h in hits)


def test_a_manifest_wins_over_the_folder(tmp_path: Path, encoders: Encoders) -> None:
    root = _folder(tmp_path / "images")
    (root / "manifest.jsonl").write_text(json.dumps({"path": "cats/cats0.png", "tags": ["listed"]}) + "\n")
    settings = tiny_settings(tmp_path, IMAGES_ROOT=root, AUTO_INGEST=True)
    with TestClient(create_app(settings, encoders=encoders)) as client:
        info = client.get("/info").json()  # the manifest is seeded before the server is ready
        assert info["points"] == 1 and "autoIngest" not in info
        r = client.post("/search/hybrid", json={"queryText": "listed", "limit": 10, **TEXT_ONLY})
        assert [h["tags"] for h in r.json()["hits"]] == [["listed"]]


class _StopOnceWritten:
    """A stop flag that turns on once the store holds a point (a scan killed after its first chunk)."""

    def __init__(self, store: EdgeStore) -> None:
        self.store, self.forced = store, False

    def is_set(self) -> bool:
        return self.forced or self.store.count() > 0

    def set(self) -> None:
        self.forced = True

    def clear(self) -> None:
        pass


def test_a_stopped_scan_resumes_without_duplicates_and_an_unchanged_folder_is_left_alone(
    tmp_path: Path, encoders: Encoders, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _folder(tmp_path / "images", per_folder=3)
    settings = tiny_settings(tmp_path, IMAGES_ROOT=root, AUTO_INGEST=True)
    options = IngestTarget.options
    monkeypatch.setattr(IngestTarget, "options", lambda self, **kw: options(self, **{"upsert_batch": 2, **kw}))
    store = EdgeStore(settings.QDRANT_PATH, settings.COLLECTION)
    try:
        target, registry = IngestTarget(settings, encoders, store), LibraryRegistry.from_settings(settings)
        first = FolderScan(target, registry)
        first._stop = _StopOnceWritten(store)  # type: ignore[assignment]  # killed after its first chunk
        first.run()
        assert first.progress is not None and first.progress.status == "stopped"
        assert 0 < store.count() < 6

        second = FolderScan(target, registry)
        second.run()
        assert second.progress is not None and second.progress.status == "done"
        assert store.count() == 6  # the rest, and nothing twice (ids from content)

        points, _ = store.scroll(None, limit=1)
        store.delete([points[0].id])
        third = FolderScan(target, registry)
        third.run()
        assert third.progress is not None and third.progress.status == "unchanged"
        assert store.count() == 5, "an image deleted from the library stays deleted"

        shape_image(4, 99).save(root / "dogs" / "new.png")  # the folder changed: scanned again
        fourth = FolderScan(target, registry)
        fourth.run()
        assert fourth.progress is not None and fourth.progress.status == "done"
        assert store.count() == 7
    finally:
        store.close()
