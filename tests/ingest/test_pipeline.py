"""Ingestion: counts, resume, failures, model mismatch — on the tiny random-weight model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.embedding import Encoders
from app.errors import ModelMismatchError
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import read_manifest, scan_folder
from app.storage.edge import EdgeStore
from app.storage.schema import CollectionSchema
from app.storage.types import ViewQuery


class CountingEncoders:
    """Counts image-tower forwards by wrapping the real model (it still computes)."""

    def __init__(self, encoders: Encoders, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = encoders.clip.encode_preprocessed

        def counted(batch: Any) -> np.ndarray:
            self.calls += len(batch)
            return real(batch)

        monkeypatch.setattr(encoders.clip, "encode_preprocessed", counted)


def _ingest(encoders: Encoders, store: Any, items: list[Any], root: Path, **kw: Any) -> Any:
    opts = IngestOptions(images_root=root, clip_batch=16, upsert_batch=16, workers=2, **kw)
    return Ingestor(encoders, store, opts).run(items)


def test_folder_ingest_counts_and_reports_the_corrupt_file(
    encoders: Encoders, store_factory: Any, image_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (image_folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (image_folder / "truncated.jpg").write_bytes((image_folder / "circle" / "img_000.png").read_bytes()[:200])
    store = store_factory()
    counter = CountingEncoders(encoders, monkeypatch)
    report = _ingest(encoders, store, list(scan_folder(image_folder)), image_folder)
    assert store.count() == 100
    assert report.ingested == 100
    assert sorted(Path(f.path).name for f in report.failures) == ["broken.png", "truncated.jpg"]
    assert all(f.reason for f in report.failures)
    assert counter.calls == 200  # a picture and its edge map per item

    again = _ingest(encoders, store, list(scan_folder(image_folder)), image_folder)
    assert counter.calls == 200, "nothing is re-embedded on a second run"
    assert (again.ingested, again.skipped, store.count()) == (0, 100, 100)


def test_manifest_ingest_stores_payload_vectors_and_self_retrieves(
    encoders: Encoders, store_factory: Any, image_folder: Path
) -> None:
    store = store_factory()
    items = list(read_manifest(image_folder / "manifest.jsonl"))[:20]
    report = _ingest(encoders, store, items, image_folder)
    assert report.ingested == 20
    point = store.retrieve([report.ids[2]], with_vectors=True)[0]
    assert point.payload["path"] == "triangle/img_002.png"
    assert point.payload["tags"] == ["triangle", "pointy"]
    assert {"sha256", "width", "height", "library", "source"} <= set(point.payload)
    assert set(point.vectors) == {"image", "edge", "text", "shape"}
    for view in ("image", "edge", "text", "shape"):
        norm = float(np.linalg.norm(point.vectors[view]))
        assert norm == pytest.approx(1.0, abs=1e-3)
        hits = store.search(ViewQuery(view, point.vectors[view].tolist(), 10), exact=True)
        # Items with the same tags share a text vector: the point must be among the ties.
        top = {h.id for h in hits if h.score >= hits[0].score - 1e-5}
        assert point.id in top, f"{view}: a point's own vector must find it first"
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)


def test_same_content_twice_in_one_run_is_stored_once(
    encoders: Encoders, store_factory: Any, image_folder: Path
) -> None:
    twin = image_folder / "copy.png"
    twin.write_bytes((image_folder / "circle" / "img_000.png").read_bytes())
    items = [i for i in scan_folder(image_folder) if i.path.name in {"img_000.png", "copy.png"}]
    report = _ingest(encoders, store_factory(), items, image_folder)
    assert (report.ingested, report.skipped) == (1, 1)


def test_items_without_tags_get_no_text_vector(encoders: Encoders, store_factory: Any, tmp_path: Path) -> None:
    from tests.support.images import shape_image

    shape_image(0, 1).save(tmp_path / "a.png")
    store = store_factory()
    report = _ingest(encoders, store, list(scan_folder(tmp_path)), tmp_path)
    point = store.retrieve(report.ids, with_vectors=True)[0]
    assert set(point.vectors) == {"image", "edge", "shape"}


def test_another_model_is_refused_before_writing(encoders: Encoders, tmp_path: Path, image_folder: Path) -> None:
    store = EdgeStore(tmp_path / "q", "c")
    space = {**encoders.space(), "model": "ViT-L-14"}
    store.ensure(CollectionSchema(encoders.clip.dim, encoders.text.dim, space), writing=True)
    with pytest.raises(ModelMismatchError, match="ViT-L-14"):
        _ingest(encoders, store, list(scan_folder(image_folder))[:2], image_folder)
    assert store.count() == 0
    store.close()


def test_manifest_errors_name_the_line(tmp_path: Path) -> None:
    from app.errors import InvalidInputError

    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"path": "a.png"}) + "\n{oops\n")
    with pytest.raises(InvalidInputError, match="m.jsonl:2"):
        list(read_manifest(m))


def test_embedding_cache_skips_the_model_for_files_seen_before(
    encoders: Encoders, store_factory: Any, image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.embedding.cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "cache.sqlite", encoders.space())
    counter = CountingEncoders(encoders, monkeypatch)
    items = list(scan_folder(image_folder))[:10]
    store = store_factory()
    first = _ingest(encoders, store, items, image_folder, cache=cache, library="a")
    assert counter.calls == 20
    # Another library holding the same files: new points, no model run, the same vectors.
    second = _ingest(encoders, store, items, image_folder, cache=cache, library="b")
    assert counter.calls == 20
    assert second.ingested == 10 and store.count() == 20
    a = store.retrieve(first.ids[:1], with_vectors=True)[0]
    b = store.retrieve(second.ids[:1], with_vectors=True)[0]
    assert a.id != b.id
    for view in ("image", "edge"):
        np.testing.assert_array_equal(a.vectors[view], b.vectors[view])
    # Another embedding space misses the cache.
    other = EmbeddingCache(tmp_path / "cache.sqlite", {**encoders.space(), "model": "other"})
    assert other.get_many([a.payload["sha256"]]) == {}
    cache.close()
    other.close()


def test_extras_never_override_reserved_payload_fields(encoders: Encoders, tmp_path: Path) -> None:
    from app.ingest.sources import Item
    from tests.support.images import shape_image

    root = tmp_path / "images"
    root.mkdir()
    shape_image(1, 7).save(root / "a.png")
    hostile = {
        "library": "someone-else",
        "path": "/etc/passwd",
        "owned": True,
        "sha256": "0" * 64,
        "width": 1,
        "title": "kept",
        "source": "manifest",
    }
    store = EdgeStore(tmp_path / "q", "c")
    report = _ingest(encoders, store, [Item(root / "a.png", ["box"], dict(hostile))], root)
    payload = store.retrieve(report.ids)[0].payload
    store.close()
    assert payload["library"] == "default" and payload["path"] == "a.png" and payload["width"] == 96
    assert payload["sha256"] != "0" * 64
    assert "owned" not in payload, "only IngestOptions.owned marks a file as the library's to delete"
    assert payload["title"] == "kept" and payload["source"] == "manifest"


def test_owned_comes_from_the_options_not_the_item(encoders: Encoders, tmp_path: Path) -> None:
    from app.ingest.sources import Item
    from tests.support.images import shape_image

    shape_image(2, 8).save(tmp_path / "b.png")
    store = EdgeStore(tmp_path / "q", "c")
    report = _ingest(encoders, store, [Item(tmp_path / "b.png", [])], tmp_path, owned=True)
    assert store.retrieve(report.ids)[0].payload["owned"] is True
    store.close()


def test_files_outside_the_images_root_are_refused_with_the_reason(encoders: Encoders, tmp_path: Path) -> None:
    from app.ingest.sources import Item
    from tests.support.images import shape_image

    (tmp_path / "root").mkdir()
    (tmp_path / "elsewhere").mkdir()
    shape_image(0, 3).save(tmp_path / "root" / "in.png")
    shape_image(1, 4).save(tmp_path / "elsewhere" / "out.png")
    (tmp_path / "root" / "link.png").symlink_to(tmp_path / "elsewhere" / "out.png")
    items = [Item(tmp_path / "root" / n) for n in ("in.png", "link.png")] + [Item(tmp_path / "elsewhere" / "out.png")]
    store = EdgeStore(tmp_path / "q", "c")
    report = _ingest(encoders, store, items, tmp_path / "root")
    assert report.ingested == 1 and store.count() == 1
    assert store.retrieve(report.ids)[0].payload["path"] == "in.png"
    store.close()
    assert sorted(Path(f.path).name for f in report.failures) == ["link.png", "out.png"]
    root = (tmp_path / "root").resolve()
    assert all(
        f.reason == f"outside IMAGES_ROOT={root}; set IMAGES_ROOT or pass --images-root" for f in report.failures
    )


def test_folder_scan_does_not_follow_symlinks(tmp_path: Path) -> None:
    from tests.support.images import shape_image

    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    shape_image(0, 1).save(outside / "secret.png")
    shape_image(1, 2).save(outside / "deep" / "more.png")
    folder = tmp_path / "folder"
    (folder / "cats").mkdir(parents=True)
    shape_image(2, 3).save(folder / "cats" / "real.png")
    shape_image(2, 4).save(folder / "inside.png")
    (folder / "cats" / "escape.png").symlink_to(outside / "secret.png")
    (folder / "alias.png").symlink_to(folder / "inside.png")  # even a link that stays inside
    (folder / "tree").symlink_to(outside / "deep", target_is_directory=True)
    refused: list[tuple[Path, str]] = []
    items = list(scan_folder(folder, lambda p, why: refused.append((p, why))))
    assert [i.path.relative_to(folder.resolve()).as_posix() for i in items] == ["cats/real.png", "inside.png"]
    assert items[0].tags == ["cats"]
    assert {p.name: why for p, why in refused} == {
        "escape.png": "a symbolic link (links are not followed)",
        "alias.png": "a symbolic link (links are not followed)",
        "tree": "a symbolic link to a folder (links are not followed)",
    }


def test_near_duplicates_are_skipped_within_the_library_and_the_run(encoders: Encoders, tmp_path: Path) -> None:
    from PIL import Image

    from app.ingest.sources import Item
    from app.storage.schema import content_sha256, point_id
    from tests.support.images import NEAR_THRESHOLD, near_copy, shape_image

    root = tmp_path / "images"
    root.mkdir()
    shape_image(0, 11).save(root / "orig.png")
    shape_image(1, 12).save(root / "other.png")
    (root / "near.jpg").write_bytes(near_copy(root / "orig.png"))
    (root / "other_near.jpg").write_bytes(near_copy(root / "other.png"))
    # The tiny model has random weights: check the planted copies really are near, not assume it.
    names = ["orig.png", "near.jpg", "other.png", "other_near.jpg"]
    with_pictures = [Image.open(root / n).convert("RGB") for n in names]
    v = encoders.clip.encode_images(with_pictures)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    assert float(v[0] @ v[1]) >= NEAR_THRESHOLD and float(v[2] @ v[3]) >= NEAR_THRESHOLD
    assert float(v[0] @ v[2]) < NEAR_THRESHOLD, "unrelated pictures must stay below the threshold"

    def pid(name: str, library: str = "default") -> str:
        return point_id(content_sha256((root / name).read_bytes()), library)

    store = EdgeStore(tmp_path / "q", "c")
    near = {"skip_near_duplicates": True, "near_duplicate_threshold": NEAR_THRESHOLD}
    assert _ingest(encoders, store, [Item(root / "orig.png")], root).ingested == 1
    run = _ingest(encoders, store, [Item(root / n) for n in ("near.jpg", "other.png", "other_near.jpg")], root, **near)
    assert run.ids == [pid("other.png")]
    # near.jpg matches the stored original; other_near.jpg matches other.png, kept earlier in this run.
    got = [(Path(d.path).name, d.duplicate_of) for d in run.near_duplicates]
    assert got == [("near.jpg", pid("orig.png")), ("other_near.jpg", pid("other.png"))]
    assert all(d.score >= NEAR_THRESHOLD for d in run.near_duplicates)
    assert run.summary()["near_duplicates"] == 2
    # Another library holds no original: the copy goes in. Without the option it goes in too.
    fresh = _ingest(encoders, store, [Item(root / "near.jpg")], root, library="fresh", **near)
    assert fresh.ingested == 1 and not fresh.near_duplicates
    plain = _ingest(encoders, store, [Item(root / "near.jpg")], root)
    assert plain.ingested == 1
    store.close()


def test_the_written_payload_has_todays_keys_and_round_trips_through_the_model(
    encoders: Encoders, tmp_path: Path
) -> None:
    from app.ingest.sources import Item
    from app.storage.payload import Payload
    from tests.support.images import shape_image

    shape_image(3, 9).save(tmp_path / "c.png")
    store = EdgeStore(tmp_path / "q", "c")
    extra = {"title": "kept", "caption": "a box", "source": 7}  # a JSONL manifest's number as `source`
    report = _ingest(encoders, store, [Item(tmp_path / "c.png", ["box"], extra)], tmp_path, source="seed")
    stored = store.retrieve(report.ids)[0].payload
    store.close()
    assert set(stored) == {
        "path", "tags", "sha256", "width", "height", "bytes", "library", "edge_version", "shape_version",
        "text_template", "ingested_at", "source", "title", "caption",
    }  # fmt: skip
    assert stored["bytes"] == (tmp_path / "c.png").stat().st_size and stored["source"] == "seed"
    assert Payload.read(stored).stored() == stored


@pytest.mark.parametrize("stop_after_forwards", [2, 40])
def test_a_stop_asked_mid_run_writes_nothing_more(
    encoders: Encoders,
    store_factory: Any,
    image_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    stop_after_forwards: int,
) -> None:
    """A cancelled import stops writing at once: not after the chunks already decoded or being
    embedded (a chunk of 16 here; the stop comes during its forwards, or after the first two
    chunks were written)."""
    counter = CountingEncoders(encoders, monkeypatch)
    store = store_factory()
    items = list(scan_folder(image_folder))
    report = _ingest(encoders, store, items, image_folder, should_stop=lambda: counter.calls >= stop_after_forwards)
    written = store.count()
    assert written == report.ingested
    # Each chunk is 16 items (32 forwards): a stop during a chunk's forwards keeps it out.
    assert written == 16 * (stop_after_forwards // 32) < len(items)
