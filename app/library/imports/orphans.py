"""Staged files that no point refers to, and sweeping them.

An import stages its files under IMAGES_ROOT/imports/<library>/ before (uploads) or while (folder,
URLs) its job runs, and removes the ones that got no point when it ends. A process killed in
between (SIGKILL, OOM, power) never gets there; so at start, and when a library is deleted, the
files no point refers to are swept. Only files untouched for a grace period (IMPORT_ORPHAN_GRACE_S)
go at start: an import running on another worker, or queued on a durable queue, may be about
to embed a file it staged a moment ago. Staging a file again refreshes its time
(`ContentFolder.save`), so a file a new request relies on is never old.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import time
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

from app.library.imports.staging import LIBRARY_NAME as _LIBRARY
from app.library.imports.staging import ContentFolder
from app.storage.base import VectorStore
from app.storage.schema import content_sha256, point_id
from app.storage.types import Filter, MatchAny

log = logging.getLogger(__name__)
_CONTENT = re.compile(r"^[0-9a-f]{64}$")  # the stem of a staged file: its sha256
_BATCH = 256


def unreferenced(store: VectorStore, images_root: Path, library: str, paths: list[Path]) -> list[Path]:
    """Those of `paths` (files staged for `library`) that no point's `path` names: asked by
    point id (the content in `library`) and by content in any library (a point elsewhere,
    e.g. a folder ingest over IMAGES_ROOT, may use the same file)."""
    if not paths or not store.exists():
        return list(paths)
    root = Path(images_root)
    shas = sorted({ContentFolder.sha256_of(p) for p in paths})
    referenced: set[Path] = set()
    for start in range(0, len(shas), _BATCH):
        batch = shas[start : start + _BATCH]
        points = store.retrieve([point_id(s, library) for s in batch])
        flt = Filter(must=(MatchAny("sha256", tuple(batch)),))
        offset: str | None = None
        while True:
            page, offset = store.scroll(flt, limit=_BATCH, offset=offset)
            points += page
            if offset is None:
                break
        referenced |= {(root / str(p.payload["path"])).resolve() for p in points if p.payload.get("path")}
    return [p for p in paths if p.resolve() not in referenced]


def sweep_staged(
    store: VectorStore,
    images_root: Path,
    *,
    grace_s: float,
    libraries: Iterable[str] | None = None,
    now: float | None = None,
    keep: Collection[Path] = (),
) -> int:
    """Remove the staged files of `libraries` (default: every library folder) that no point
    refers to and that were last written more than `grace_s` seconds ago, with the temp files
    a killed write left behind; then the folders that end up empty. Files whose names this
    layout does not make are left alone, and so are those in `keep` (resolved paths: the
    files of items in the trash, app/library/trash.py). Returns how many files went."""
    base = Path(images_root) / "imports"
    if not base.is_dir():
        return 0
    names = list(libraries) if libraries is not None else sorted(d.name for d in base.iterdir())
    cutoff = (time.time() if now is None else now) - grace_s
    removed = 0
    for library in names:
        if not _LIBRARY.match(library):  # not a folder this layout makes
            continue
        folder = base / library
        if folder.is_symlink() or not folder.is_dir():
            continue
        old = [p for p, mtime in _files(folder) if mtime <= cutoff]
        temps = [p for p in old if p.name.startswith(".") and p.name.endswith(".tmp")]
        content = [p for p in old if _CONTENT.match(p.stem) and not p.name.startswith(".")]
        for path in temps + [p for p in unreferenced(store, images_root, library, content) if p.resolve() not in keep]:
            path.unlink(missing_ok=True)
            removed += 1
        remove_empty_folders(folder)
    if removed:
        log.info("removed %d staged import files that no point refers to", removed)
    return removed


def sweep_copies(
    store: VectorStore,
    images_root: Path,
    folder: str = "generated",
    *,
    grace_s: float,
    now: float | None = None,
    keep: Collection[Path] = (),
) -> int:
    """Remove the files under IMAGES_ROOT/`folder` that no point refers to and that were last
    written more than `grace_s` seconds ago: `addToLibrary` copies a generated image there and
    then embeds it, so a process killed in between leaves a copy no point names (and a killed
    copy its temp file). Asked by content (the copy's sha256) and then by path."""
    base = Path(images_root) / folder
    if not base.is_dir() or base.is_symlink():
        return 0
    cutoff = (time.time() if now is None else now) - grace_s
    root = Path(images_root).resolve()
    removed = 0
    for path, mtime in list(_files(base)):
        if mtime > cutoff or path.resolve() in keep:
            continue
        if not (path.name.startswith(".") and path.name.endswith(".tmp")):
            sha = content_sha256(path.read_bytes())
            points, _ = (
                store.scroll(Filter(must=(MatchAny("sha256", (sha,)),)), limit=_BATCH) if store.exists() else ([], None)
            )
            if any((root / str(p.payload.get("path") or "")).resolve() == path.resolve() for p in points):
                continue
        path.unlink(missing_ok=True)
        removed += 1
    if removed:
        log.info("removed %d files under %s/ that no point refers to", removed, folder)
    return removed


def _files(folder: Path) -> Iterator[tuple[Path, float]]:
    """Regular files under `folder` with their mtimes; links are neither followed nor listed."""
    for parent, _dirs, files in os.walk(folder, followlinks=False):
        for name in files:
            path = Path(parent) / name
            try:
                st = path.lstat()
            except FileNotFoundError:  # removed meanwhile (a job's own clean-up)
                continue
            if stat.S_ISREG(st.st_mode):
                yield path, st.st_mtime


def remove_empty_folders(root: Path) -> None:
    """Remove the empty folders under `root`, deepest first, and `root` if it ends up empty.
    A folder a concurrent import fills meanwhile is left (rmdir refuses a non-empty one)."""
    if not root.is_dir() or root.is_symlink():
        return
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        _rmdir_if_empty(folder)
    _rmdir_if_empty(root)


def _rmdir_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # not empty (or gone): either way nothing to do
        pass
