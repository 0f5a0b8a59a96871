"""`clippy thumbs build`: every stored image's thumbnail ahead of time, the one /thumb serves;
parallel, resumable (fresh ones skipped), failures listed, a library at a time."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from app.commands import app as clippy
from app.storage.edge import EdgeStore
from app.storage.schema import TENANT_FIELD, CollectionSchema
from app.storage.thumbs import ThumbnailCache, build_thumbnails
from app.storage.types import PointRecord

SPACE = {"model": "m", "pretrained": "p"}


def _library(tmp_path: Path) -> tuple[Path, list[str]]:
    """Five stored images (three in `art`, two in `photos`) and one point whose file is gone."""
    root = tmp_path / "images"
    root.mkdir()
    store = EdgeStore(tmp_path / "qdrant", "c")
    store.ensure(CollectionSchema(4, 4, SPACE), writing=True)
    ids, records = [], []
    for i in range(6):
        name = f"{i}.png"
        if i < 5:
            Image.new("RGB", (320 + i, 200), (40 * i, 90, 200)).save(root / name)
        point_id = f"00000000-0000-0000-0000-{i:012d}"
        ids.append(point_id)
        library = "art" if i in (0, 1, 2, 5) else "photos"
        records.append(PointRecord(point_id, {"image": [1.0, 0, 0, i + 1.0]}, {"path": name, TENANT_FIELD: library}))
    store.upsert(records)
    store.close()
    return root, ids


def test_builds_each_thumbnail_once_and_resumes(tmp_path: Path) -> None:
    root, ids = _library(tmp_path)
    cache = ThumbnailCache(tmp_path / "thumbs", 64)
    store = EdgeStore(tmp_path / "qdrant", "c")
    try:
        seen: list[int] = []
        first = build_thumbnails(store, cache, root, 10**8, workers=3, page=2, progress=seen.append)
        assert first.made == 5 and first.skipped == 0
        assert [pid for pid, _ in first.failures] == [ids[5]]  # its file is missing: listed, not fatal
        assert sum(seen) == 6
        for point_id in ids[:5]:
            with Image.open(cache.path_for(point_id)) as thumb:
                assert max(thumb.size) == 64 and thumb.format == "JPEG"
        # What /thumb would return for the same id is the file made here (same path, kept).
        made = cache.path_for(ids[0]).stat().st_mtime_ns
        assert cache.get(ids[0], root / "0.png", 10**8) == cache.path_for(ids[0])
        assert cache.path_for(ids[0]).stat().st_mtime_ns == made

        # A run stopped half-way: one thumbnail lost, one original changed since.
        cache.path_for(ids[1]).unlink()
        Image.new("RGB", (100, 300), "white").save(root / "2.png")
        later = cache.path_for(ids[2]).stat().st_mtime + 10

        os.utime(root / "2.png", (later, later))
        second = build_thumbnails(store, cache, root, 10**8, workers=2)
        assert (second.made, second.skipped, len(second.failures)) == (2, 3, 1)
        with Image.open(cache.path_for(ids[2])) as thumb:
            assert thumb.size[1] == 64 and thumb.size[0] < 64  # remade from the new, tall original
        assert not list((tmp_path / "thumbs").rglob("*.tmp*")), "atomic writes leave no partial files"
    finally:
        store.close()


def test_one_library_and_a_limit(tmp_path: Path) -> None:
    root, ids = _library(tmp_path)
    cache = ThumbnailCache(tmp_path / "thumbs", 48)
    store = EdgeStore(tmp_path / "qdrant", "c")
    try:
        report = build_thumbnails(store, cache, root, 10**8, library="photos")
        assert report.summary() == {"made": 2, "skipped": 0, "failed": 0}
        assert {p.stem for p in (tmp_path / "thumbs").rglob("*.jpg")} == {ids[3], ids[4]}
        limited = build_thumbnails(store, ThumbnailCache(tmp_path / "t2", 48), root, 10**8, limit=3, page=2)
        assert limited.made + limited.skipped + len(limited.failures) == 3
    finally:
        store.close()
    with pytest.raises(ValueError, match="workers"):
        build_thumbnails(store, cache, root, 10**8, workers=0)


def test_cli_builds_then_skips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, ids = _library(tmp_path)
    for key, value in {
        "QDRANT_PATH": tmp_path / "qdrant",
        "COLLECTION": "c",
        "IMAGES_ROOT": root,
        "THUMBS_ROOT": tmp_path / "thumbs",
        "QDRANT_URL": "",
    }.items():
        monkeypatch.setenv(key, str(value))
    runner = CliRunner()
    args = ["thumbs", "build", "--library", "art", "--workers", "2", "--size", "40", "--no-progress"]
    first = runner.invoke(clippy, args)
    assert first.exit_code == 1, first.output  # the missing file makes the run fail, after the rest
    assert json.loads(first.stdout.strip().splitlines()[-1])["made"] == 3
    assert f"failed: {ids[5]}" in first.stderr
    second = runner.invoke(clippy, args)
    summary = json.loads(second.stdout.strip().splitlines()[-1])
    assert (summary["made"], summary["skipped"], summary["failed"]) == (0, 3, 1)
    assert summary["thumbsRoot"].endswith("40")
    assert "Thumbnails for a whole library" in runner.invoke(clippy, ["thumbs", "--help"]).stdout
