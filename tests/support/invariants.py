"""What must hold after any process was killed at any instant and restarted (issue 18):
points ↔ files ↔ thumbnails agree, and the store opens (no stale lock).

`violations(...)` lists every breach as a sentence; an empty list is the pass. It opens the
embedded store itself, so call it with the server stopped (the store is one process's).
"""

from __future__ import annotations

import json
from pathlib import Path

from app.storage.edge import EdgeStore
from app.storage.files import safe_join
from app.storage.payload import Payload

# Folders under IMAGES_ROOT whose files the library wrote itself (imports, addToLibrary copies):
# each must belong to a point once the sweep's grace has passed.
OWNED_FOLDERS = ("imports", "generated")


def all_points(store: EdgeStore) -> list[tuple[str, Payload]]:
    out: list[tuple[str, Payload]] = []
    offset: str | None = None
    while True:
        page, offset = store.scroll(limit=256, offset=offset)
        out += [(p.id, Payload.read(p.payload)) for p in page]
        if offset is None:
            return out


def violations(qdrant_path: Path, collection: str, images_root: Path, thumbs_root: Path) -> list[str]:
    found: list[str] = []
    # A lock left behind would make this raise StoreLockedError: the store must open.
    store = EdgeStore(qdrant_path, collection)
    try:
        points = all_points(store) if store.exists() else []
    finally:
        store.close()
    ids = {pid for pid, _ in points}
    referenced: set[Path] = set()
    # Items in the trash (app/library/trash.py) keep their files until the purge; a restart
    # finishes every move a kill cut off, so none is left `pending` and none has a point.
    trash = qdrant_path / f"{collection}.trash"
    for record in sorted(trash.glob("*.json")) if trash.is_dir() else []:
        meta = json.loads(record.read_text().splitlines()[0])
        item = Payload.read(meta["payload"])
        if item.path:
            kept = (images_root / item.path).resolve()
            referenced.add(kept)
            if not kept.is_file():
                found.append(f"trashed item {meta['id']} names {item.path!r}, which does not exist")
        if meta["state"] != "trashed":
            found.append(f"trash record {record.name} is left {meta['state']!r}")
        if meta["id"] in ids:
            found.append(f"trashed item {meta['id']} still has a point")
    for tmp in sorted(trash.glob("*.tmp")) if trash.is_dir() else []:
        found.append(f"trash holds a half-written {tmp.name}")
    for pid, payload in points:
        path = safe_join(images_root, payload.path or "")
        referenced.add(path.resolve())
        if not path.is_file():
            found.append(f"point {pid} names {payload.path!r}, which does not exist")
    for folder in OWNED_FOLDERS:
        for path in sorted((images_root / folder).rglob("*")) if (images_root / folder).is_dir() else []:
            if path.is_file() and path.resolve() not in referenced:
                found.append(f"{path.relative_to(images_root)} belongs to no point")
    for thumb in sorted(thumbs_root.rglob("*.jpg")) if thumbs_root.is_dir() else []:
        if thumb.stem not in ids:
            found.append(f"thumbnail {thumb.name} belongs to no point")
    return found
