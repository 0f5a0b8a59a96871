"""The trash on its own: a move cut off by a kill is finished at start, a purge cut off is
done again, and nothing is left behind (tests/support/invariants.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.embedding import Encoders
from app.errors import InvalidInputError, NotFoundError
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import Item
from app.library.changes import LibraryChanges
from app.library.trash import Trash
from app.storage.edge import EdgeStore
from app.storage.schema import content_sha256
from app.storage.thumbs import ThumbnailCache
from tests.support.images import png_bytes, shape_image
from tests.support.invariants import violations

COLLECTION = "trash-test"


class Killed(BaseException):
    """Stands for SIGKILL: nothing after the raise runs, no except Exception catches it."""


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _library(tmp_path: Path, encoders: Encoders, n: int = 3) -> tuple[EdgeStore, Trash, list[str], Clock]:
    root = tmp_path / "images"
    items = []
    for i in range(n):
        # Named by content, as imports stage their files (the sweep reads names as hashes).
        data = png_bytes(shape_image(i % 3, 500 + i))
        path = root / "imports" / "default" / f"{content_sha256(data)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        items.append(Item(path, ["kept", f"n{i}"]))
    store = EdgeStore(tmp_path / "qdrant", COLLECTION)
    ids = Ingestor(encoders, store, IngestOptions(images_root=root, source="upload")).run(items).ids
    store.set_payload(ids, {"owned": True})
    clock = Clock()
    thumbs = ThumbnailCache(tmp_path / "thumbs", 64)
    trash = Trash(tmp_path / "qdrant" / f"{COLLECTION}.trash", 3600, store, thumbs, root, LibraryChanges(), clock)
    for pid in ids:
        thumbs.get(pid, root / str(store.retrieve([pid])[0].payload["path"]), 10**8)
    return store, trash, ids, clock


def _check(tmp_path: Path, store: EdgeStore) -> list[str]:
    store.close()
    return violations(tmp_path / "qdrant", COLLECTION, tmp_path / "images", tmp_path / "thumbs")


def test_a_move_killed_before_the_point_goes_is_finished_at_start(tmp_path: Path, encoders: Encoders) -> None:
    store, trash, ids, _ = _library(tmp_path, encoders)
    real = store.delete

    def die(_: Any) -> None:
        raise Killed

    store.delete = die  # type: ignore[method-assign]
    with pytest.raises(Killed):
        trash.delete(ids[0])
    store.delete = real  # type: ignore[method-assign]
    assert store.retrieve([ids[0]]), "the point is still there, its record says `pending`"
    version = trash.changes.version
    assert trash.recover() == 1
    assert not store.retrieve([ids[0]]) and trash.changes.version > version
    assert [i.id for i in trash.list().items] == [ids[0]]
    assert _check(tmp_path, store) == []


def test_a_purge_killed_midway_is_done_again_and_leaves_nothing(tmp_path: Path, encoders: Encoders) -> None:
    store, trash, ids, clock = _library(tmp_path, encoders)
    files = [tmp_path / "images" / str(p.payload["path"]) for p in store.retrieve(ids)]
    for pid in ids[:2]:
        trash.delete(pid)
    clock.now += 3601
    # Killed after the first file went, before its record did.
    real_unlink = Path.unlink
    calls = {"n": 0}

    def unlink_then_die(self: Path, missing_ok: bool = False) -> None:
        real_unlink(self, missing_ok=missing_ok)
        if self.suffix == ".png":
            calls["n"] += 1
            raise Killed

    Path.unlink = unlink_then_die  # type: ignore[method-assign]
    try:
        with pytest.raises(Killed):
            trash.purge_expired()
    finally:
        Path.unlink = real_unlink  # type: ignore[method-assign]
    assert calls["n"] == 1 and len(trash.list().items) == 2, "both records still there"
    trash.recover()  # the restart
    assert trash.list().items == [] and not files[0].exists() and not files[1].exists()
    assert files[2].exists() and store.retrieve([ids[2]])
    assert trash.purge_expired() == 0
    assert _check(tmp_path, store) == []


def test_restore_brings_back_every_view_and_an_expired_item_is_gone(tmp_path: Path, encoders: Encoders) -> None:
    store, trash, ids, clock = _library(tmp_path, encoders)
    before = store.retrieve([ids[1]], with_vectors=True)[0]
    trash.delete(ids[1])
    restored = trash.restore(ids[1])
    assert restored.tags == ["kept", "n1"]
    after = store.retrieve([ids[1]], with_vectors=True)[0]
    assert after.payload == before.payload
    assert set(after.vectors) == set(before.vectors)
    for view, vec in before.vectors.items():
        assert after.vectors[view].tolist() == pytest.approx(vec.tolist())
    trash.delete(ids[1])
    clock.now += 3601
    assert trash.purge_expired() == 1
    with pytest.raises(NotFoundError):
        trash.restore(ids[1])
    assert _check(tmp_path, store) == []


def test_bulk_deletes_need_the_count_and_ttl_0_deletes_at_once(tmp_path: Path, encoders: Encoders) -> None:
    store, trash, ids, _ = _library(tmp_path, encoders)
    with pytest.raises(InvalidInputError, match="needs `confirm` set to 3"):
        trash.delete_many(ids, None, confirm_above=2)
    assert trash.delete_many(ids, None, confirm_above=3).deleted[0].trashed
    for pid in ids:
        trash.restore(pid)
    trash.ttl_s = 0
    gone = trash.delete(ids[0])
    assert gone.trashed is False and gone.file_removed is True and trash.list().total == 0
    assert _check(tmp_path, store) == []


def test_the_start_up_sweep_of_staged_files_keeps_the_files_of_trashed_items(
    tmp_path: Path, encoders: Encoders
) -> None:
    from app.library.imports.orphans import sweep_staged

    store, trash, ids, _ = _library(tmp_path, encoders)
    path = tmp_path / "images" / str(store.retrieve([ids[0]])[0].payload["path"])
    trash.delete(ids[0])
    root = tmp_path / "images"
    assert sweep_staged(store, root, grace_s=0, keep=trash.files()) == 0 and path.is_file()
    trash.restore(ids[0])
    assert store.retrieve([ids[0]]), "restorable after the sweep"
    trash.delete(ids[0])
    assert sweep_staged(store, root, grace_s=0) == 1, "without `keep` the file would have gone"
    assert _check(tmp_path, store) != [], "and the invariants notice a trashed item without its file"
