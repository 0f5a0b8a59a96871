"""The trash: a deleted item leaves the library at once and stays restorable for TRASH_TTL_S.

Moving an item to the trash writes its record (payload and vectors, one file under
TRASH_ROOT) *before* the point leaves the store, so a process that dies in between loses
nothing: the record says `pending` until the point is gone, then `trashed`, and a start
finishes moves left `pending` (`recover`). The file stays where it is, so restoring is one
upsert. The purge after the TTL removes the thumbnail, the file when the library owns it
and no point uses it any more, and the record last; every step is idempotent, so a purge
cut off by a restart is simply done again and leaves nothing behind.

A record is two JSON lines: what listing needs (id, payload, times, state), then the
vectors, so `GET /trash` reads one short line per item however large the vectors are.
With TRASH_TTL_S=0 deletes are final at once (`delete_image`), as before the trash.

One process owns the trash (the API process, like the embedded store); the lock orders a
purge against a restore of the same item.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from app.config import Settings
from app.embedding.tags import tags_vector
from app.errors import InvalidInputError, NotFoundError
from app.library.access import LibraryScope
from app.library.browse import (
    OPERATOR_SCOPE,
    _drop_thumbnail,
    _remove_owned_file,
    _uuid,
    delete_image,
    summary,
)
from app.library.changes import LibraryChanges
from app.library.models import DeletedImage, DeletedImages, ImageSummary, TrashedImage, TrashList
from app.storage.base import VectorStore
from app.storage.files import safe_join
from app.storage.payload import Payload
from app.storage.thumbs import ThumbnailCache
from app.storage.types import DENSE_VIEWS, PointRecord, Vector

log = logging.getLogger(__name__)

State = Literal["pending", "trashed"]


def trash_root(settings: Settings) -> Path:
    if settings.TRASH_ROOT is not None:
        return Path(settings.TRASH_ROOT)
    return Path(settings.QDRANT_PATH) / f"{settings.COLLECTION}.trash"


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True)
class TrashRecord:
    id: str
    payload: dict[str, Any]
    deleted_at: float
    purge_at: float
    state: State
    vectors: dict[str, list[float]] | None = None  # None: read from the listing line only

    def lines(self) -> str:
        meta = {
            "id": self.id,
            "payload": self.payload,
            "deletedAt": self.deleted_at,
            "purgeAt": self.purge_at,
            "state": self.state,
        }
        return json.dumps(meta) + "\n" + json.dumps(self.vectors or {}) + "\n"

    @classmethod
    def parse(cls, meta_line: str, vectors_line: str | None) -> TrashRecord:
        meta = json.loads(meta_line)
        return cls(
            id=str(meta["id"]),
            payload=dict(meta["payload"]),
            deleted_at=float(meta["deletedAt"]),
            purge_at=float(meta["purgeAt"]),
            state="pending" if meta["state"] == "pending" else "trashed",
            vectors=json.loads(vectors_line) if vectors_line is not None else None,
        )


class Trash:
    def __init__(
        self,
        root: Path,
        ttl_s: float,
        store: VectorStore,
        thumbs: ThumbnailCache,
        images_root: Path,
        changes: LibraryChanges,
        clock: Callable[[], float] = time.time,
        on_delete: Callable[[list[str]], object] | None = None,
    ) -> None:
        self.root = Path(root)
        self.ttl_s = float(ttl_s)
        self.store = store
        self.thumbs = thumbs
        self.images_root = Path(images_root)
        self.changes = changes
        self.clock = clock
        # What else forgets an item when it is deleted (its feedback stops shaping profiles at
        # once; a restore brings the item back without it).
        self.on_delete = on_delete
        self._lock = threading.RLock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        store: VectorStore,
        thumbs: ThumbnailCache,
        changes: LibraryChanges,
        on_delete: Callable[[list[str]], object] | None = None,
    ) -> Trash:
        return cls(
            trash_root(settings),
            settings.TRASH_TTL_S,
            store,
            thumbs,
            Path(settings.IMAGES_ROOT),
            changes,
            on_delete=on_delete,
        )

    # --- records ------------------------------------------------------------------------------
    def _path(self, image_id: str) -> Path:
        return self.root / f"{image_id}.json"

    def _write(self, record: TrashRecord) -> None:
        # Written beside, flushed, then renamed over: a reader sees the old record or the new
        # one, never half of one (a kill leaves at most a stray .tmp, swept by `recover`).
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"{record.id}.json.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(record.lines())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path(record.id))

    def _read(self, image_id: str, with_vectors: bool = False) -> TrashRecord | None:
        try:
            with open(self._path(image_id), encoding="utf-8") as f:
                meta = f.readline()
                vectors = f.readline() if with_vectors else None
            return TrashRecord.parse(meta, vectors)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("trash record %s unreadable: %s", image_id, e)
            return None

    def _records(self) -> Iterator[TrashRecord]:
        if not self.root.is_dir():
            return
        for path in self.root.glob("*.json"):
            record = self._read(path.stem)
            if record is not None:
                yield record

    def _found(self, image_id: str, scope: LibraryScope, with_vectors: bool = False) -> TrashRecord:
        """The record of an item the caller may change; 404 like an unknown one otherwise."""
        image_id = _uuid(image_id, "id")
        record = self._read(image_id, with_vectors)
        if record is None:
            raise NotFoundError(f"no item {image_id!r} in the trash.", id=image_id)
        scope.check_read(record.payload, image_id)
        scope.check_write(str(Payload.read(record.payload).library))
        return record

    # --- deleting -----------------------------------------------------------------------------
    def delete(self, image_id: str, scope: LibraryScope = OPERATOR_SCOPE) -> DeletedImage:
        """Move one item to the trash (or delete it for good when TRASH_TTL_S is 0)."""
        if self.ttl_s <= 0:
            deleted = delete_image(self.store, self.thumbs, self.images_root, image_id, scope)
            self.changes.bump()
            if self.on_delete is not None:
                self.on_delete([deleted.id])
            return deleted
        image_id = _uuid(image_id, "id")
        found = self.store.retrieve([image_id], with_vectors=True)
        if not found:
            raise NotFoundError(f"no library image with id {image_id!r}.", id=image_id)
        scope.check_read(found[0].payload, image_id)
        scope.check_write(str(Payload.read(found[0].payload).library))
        now = self.clock()
        record = TrashRecord(
            id=image_id,
            payload=found[0].payload,
            deleted_at=now,
            purge_at=now + self.ttl_s,
            state="pending",
            vectors={k: v.tolist() for k, v in found[0].vectors.items()},
        )
        with self._lock:
            self._write(record)
            # Thumbnail before the point (see `delete_image`), and again after.
            had_thumb = _drop_thumbnail(self.thumbs, image_id)
            self.store.delete([image_id])
            self.thumbs.invalidate(image_id)
            self._write(replace(record, state="trashed"))
            self.changes.bump()
        if self.on_delete is not None:
            self.on_delete([image_id])
        return DeletedImage(
            id=image_id,
            thumbnail_removed=had_thumb,
            file_removed=False,
            file_kept_reason="in the trash",
            trashed=True,
            purge_at=_when(record.purge_at),
        )

    def delete_many(
        self, ids: Sequence[str], confirm: int | None, confirm_above: int, scope: LibraryScope = OPERATOR_SCOPE
    ) -> DeletedImages:
        """Several items; more than `confirm_above` need `confirm` equal to their number, so
        a person typed how many go. Every id is checked before any is deleted."""
        unique = list(dict.fromkeys(_uuid(i, "ids") for i in ids))
        if len(unique) > confirm_above and confirm != len(unique):
            raise InvalidInputError(
                f"deleting {len(unique)} items needs `confirm` set to {len(unique)} "
                f"(more than BULK_DELETE_CONFIRM_ABOVE={confirm_above}); got {confirm}.",
                field="confirm",
            )
        found = {p.id: p for p in self.store.retrieve(unique)}
        for image_id in unique:
            if image_id not in found:
                raise NotFoundError(f"no library image with id {image_id!r}.", id=image_id)
            scope.check_read(found[image_id].payload, image_id)
            scope.check_write(str(Payload.read(found[image_id].payload).library))
        return DeletedImages(deleted=[self.delete(i, scope) for i in unique])

    # --- the trash ----------------------------------------------------------------------------
    def list(self, scope: LibraryScope = OPERATOR_SCOPE, limit: int = 200) -> TrashList:
        mine = sorted((r for r in self._records() if scope.may_read(r.payload)), key=lambda r: (-r.deleted_at, r.id))
        items = []
        for r in mine[:limit]:
            p = Payload.read(r.payload)
            items.append(
                TrashedImage(
                    id=r.id,
                    library=p.library,
                    path=p.path,
                    thumb_url=f"/trash/{r.id}/thumb",
                    deleted_at=_when(r.deleted_at),
                    purge_at=_when(r.purge_at),
                )
            )
        return TrashList(items=items, total=len(mine), ttl_s=self.ttl_s)

    def files(self, but: str | None = None) -> set[Path]:
        """The (resolved) files of every item in the trash (`but` one): sweeps of unreferenced
        files keep them."""
        out = set()
        for r in self._records():
            if r.id == but:
                continue
            rel = Payload.read(r.payload).path
            if rel:
                out.add((self.images_root / rel).resolve())
        return out

    def purge_library(self, library: str) -> int:
        """Every trashed item of a deleted library, now (the library and its files are gone)."""
        return sum(self._purge(r.id) for r in list(self._records()) if Payload.read(r.payload).library == library)

    def file_path(self, image_id: str, scope: LibraryScope = OPERATOR_SCOPE) -> Path:
        record = self._found(image_id, scope)
        return safe_join(self.images_root, Payload.read(record.payload).path or "")

    def restore(self, image_id: str, scope: LibraryScope = OPERATOR_SCOPE) -> ImageSummary:
        with self._lock:
            record = self._found(image_id, scope, with_vectors=True)
            vectors: dict[str, Vector] = {k: v for k, v in (record.vectors or {}).items() if k in DENSE_VIEWS}
            # The sparse view is a function of the stored tags (app/embedding/tags.py).
            tags = Payload.read(record.payload).tags
            if tags:
                vectors["tags"] = tags_vector(tags)
            self.store.upsert([PointRecord(record.id, vectors, record.payload)])
            self._path(record.id).unlink(missing_ok=True)
            self.changes.bump()
        return summary(record.id, record.payload)

    # --- purging ------------------------------------------------------------------------------
    def purge_expired(self) -> int:
        """Purge every record past its time; the number purged."""
        now = self.clock()
        return sum(self._purge(r.id) for r in list(self._records()) if r.purge_at <= now)

    def _purge(self, image_id: str) -> bool:
        with self._lock:
            record = self._read(image_id)  # again: a restore may have taken it meanwhile
            if record is None:
                return False
            if record.state == "pending":
                # The move was cut off: the point may still be there and is the trashed item.
                self.store.delete([image_id])
            # A `trashed` record whose id is back in the store was imported again: that point
            # is a new item and keeps its thumbnail and file (the file check sees it).
            if not self.store.retrieve([image_id]):
                _drop_thumbnail(self.thumbs, image_id)
            item = Payload.read(record.payload)
            # Another trashed item with the same file may still be restored: its purge removes it.
            if item.path is None or (self.images_root / item.path).resolve() not in self.files(but=image_id):
                _remove_owned_file(self.store, self.images_root, image_id, item)
            self._path(image_id).unlink(missing_ok=True)
            if record.state == "pending":
                self.changes.bump()
            return True

    def recover(self) -> int:
        """At start: finish moves a kill left `pending` (the point goes, the record becomes
        `trashed`), drop stray temporary files, purge what expired while the process was down."""
        if not self.root.is_dir():
            return 0
        for tmp in self.root.glob("*.json.tmp"):
            tmp.unlink(missing_ok=True)
        finished = 0
        with self._lock:
            for record in list(self._records()):
                if record.state == "pending":
                    full = self._read(record.id, with_vectors=True)
                    if full is None:
                        continue
                    _drop_thumbnail(self.thumbs, record.id)
                    self.store.delete([record.id])
                    self._write(replace(full, state="trashed"))
                    finished += 1
        if finished:
            self.changes.bump()
        self.purge_expired()
        return finished
