"""Compute missing or stale named vectors for points already stored.

A point needs its `edge` vector (re)computed when it has none or its payload says another
edge version; its `shape` vector (HOG of the edge map, no model) likewise with the shape
version — and whenever its edge map is recomputed, since it describes that map; its `text`
vector when it has none (but has tags or a caption) or another text template. Work is done
in pages and each page is written before the next is read, so an interrupted backfill
resumes by simply running again.

The seed's flags: `paths` (its `--manifest`) limits the work to the points of those
pictures, `upsert_batch` writes at most that many points per store call, and `gc_every`
runs the garbage collector (and empties the CUDA cache) after that many points updated.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np

from app.embedding import Encoders, edge_map
from app.embedding.edges import EDGE_VERSION
from app.embedding.shape import SHAPE_VERSION, shape_descriptor
from app.errors import ClippyError
from app.imaging import load_image_file
from app.ingest.pipeline import MAX_FILE_BYTES, Failure
from app.storage.base import VectorStore
from app.storage.files import safe_join
from app.storage.payload import Payload
from app.storage.schema import CollectionSchema
from app.storage.types import PointRecord, StoredPoint, Vector

log = logging.getLogger(__name__)
T = TypeVar("T")
Which = Literal["edge", "text", "shape", "both", "all"]
VIEWS_OF: dict[str, list[str]] = {
    "edge": ["edge"],
    "text": ["text"],
    "shape": ["shape"],
    "both": ["edge", "text"],  # the seed's name for edge + text
    "all": ["edge", "shape", "text"],
}


@dataclass
class BackfillReport:
    scanned: int = 0
    updated: dict[str, int] = field(default_factory=lambda: {"edge": 0, "text": 0, "shape": 0})
    failures: list[Failure] = field(default_factory=list)


def _needs(point: StoredPoint, view: str, encoders: Encoders) -> bool:
    p = Payload.read(point.payload)
    if view == "edge":
        return "edge" not in point.vectors or p.edge_version != EDGE_VERSION
    if view == "shape":
        return "shape" not in point.vectors or p.shape_version != SHAPE_VERSION
    has_words = bool(p.tags or p.caption)
    stale = p.text_template != encoders.text_template
    return has_words and ("text" not in point.vectors or stale)


def backfill(
    encoders: Encoders,
    store: VectorStore,
    images_root: Path,
    which: Which = "both",
    page_size: int = 64,
    max_pixels: int = 40_000_000,
    progress: Callable[[int], None] | None = None,
    *,
    paths: Collection[str] | None = None,
    upsert_batch: int | None = None,
    gc_every: int = 0,
) -> BackfillReport:
    """`paths`: only points whose payload `path` is one of these (IMAGES_ROOT-relative);
    `upsert_batch`: the most points per write (default: a page); `gc_every`: collect garbage
    after this many points updated (0 = never)."""
    if which not in VIEWS_OF:
        raise ValueError(f"`which` must be one of {sorted(VIEWS_OF)} but is {which!r}")
    if upsert_batch is not None and upsert_batch < 1:
        raise ValueError(f"`upsert_batch` must be at least 1 but is {upsert_batch}")
    if gc_every < 0:
        raise ValueError(f"`gc_every` must be 0 (never) or more but is {gc_every}")
    wanted = set(paths) if paths is not None else None
    batch = upsert_batch or page_size
    since_gc = 0
    views = VIEWS_OF[which]
    schema = CollectionSchema(encoders.clip.dim, encoders.text.dim, encoders.space())
    # Readers' check: the edge/shape versions may differ — that is what a backfill is for.
    # It also adds a `shape` vector to a collection made before the view existed.
    store.ensure(schema, writing=False)
    with_shape = "shape" in schema.dense_sizes
    report = BackfillReport()
    offset: str | None = None
    while True:
        page, offset = store.scroll(limit=page_size, offset=offset, with_vectors=views)
        report.scanned += len(page)
        drawn: set[str] = set()  # points whose shape came with their edge map on this page
        if wanted is not None:
            page = [p for p in page if Payload.read(p.payload).path in wanted]
        for view in views:
            todo = [p for p in page if _needs(p, view, encoders) and not (view == "shape" and p.id in drawn)]
            if not todo:
                continue
            if view == "text":
                done = _fill_text(encoders, store, todo, batch)
                report.updated["text"] += done
                since_gc += done
                continue
            fill = {"edge", "shape"} if view == "edge" and with_shape else {view}
            written = _fill_drawings(encoders, store, images_root, todo, fill, max_pixels, report, batch)
            for name in fill:
                report.updated[name] += len(written)
            if "shape" in fill:
                drawn |= written
            since_gc += len(written)
        if gc_every and since_gc >= gc_every:
            since_gc = 0
            _collect_garbage()
        if progress:
            progress(len(page))
        if offset is None:
            break
    if not report.failures:
        # Every vector of these views is now of this version: writers of it may proceed.
        fresh: dict[str, object] = {k: schema.space[k] for k in ("edge", "shape") if k in schema.space and k in views}
        if fresh:
            store.set_space({**(store.space() or {}), **fresh})
    return report


def _fill_drawings(
    encoders: Encoders,
    store: VectorStore,
    root: Path,
    points: list[StoredPoint],
    views: set[str],
    max_pixels: int,
    report: BackfillReport,
    batch: int,
) -> set[str]:
    """`edge` (image tower) and/or `shape` (this version's descriptor) from each picture's edge map; the ids written."""
    ready: list[tuple[StoredPoint, object, object]] = []
    for p in points:
        rel = Payload.read(p.payload).path or ""
        try:
            img = load_image_file(safe_join(root, rel), max_bytes=MAX_FILE_BYTES, max_pixels=max_pixels)
            drawing = edge_map(img)
            tensor = encoders.clip.preprocess(drawing) if "edge" in views else None
            ready.append((p, tensor, shape_descriptor(drawing) if "shape" in views else None))
        except (ClippyError, OSError) as e:
            report.failures.append(Failure(rel, getattr(e, "message", None) or str(e)))
    if not ready:
        return set()
    vectors: list[dict[str, Vector]] = [{} for _ in ready]
    payload: dict[str, str] = {}
    if "edge" in views:
        edges = encoders.clip.encode_preprocessed([t for _, t, _ in ready])
        for out, vec in zip(vectors, edges, strict=True):
            out["edge"] = vec.tolist()
        payload["edge_version"] = EDGE_VERSION
    if "shape" in views:
        for out, (_, _, shape) in zip(vectors, ready, strict=True):
            out["shape"] = np.asarray(shape).tolist()
        payload["shape_version"] = SHAPE_VERSION
    records = [PointRecord(p.id, v, {}) for (p, _, _), v in zip(ready, vectors, strict=True)]
    for chunk in _chunks(records, batch):
        store.update_vectors(chunk)
        store.set_payload([r.id for r in chunk], payload)
    return {p.id for p, _, _ in ready}


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _collect_garbage() -> None:
    """Long backfills on a GPU: give back what the last pages held (the seed's `--gc-every`)."""
    import torch  # the encoders have loaded it already

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _fill_text(encoders: Encoders, store: VectorStore, points: list[StoredPoint], batch: int) -> int:
    payloads = [Payload.read(p.payload) for p in points]
    texts = [encoders.tags_text(list(p.tags), p.caption) for p in payloads]
    rows = [(p, t) for p, t in zip(points, texts, strict=True) if t]
    if not rows:
        return 0
    vecs = encoders.text.encode_texts([t for _, t in rows])
    records = [PointRecord(p.id, {"text": v.tolist()}, {}) for (p, _), v in zip(rows, vecs, strict=True)]
    for chunk in _chunks(records, batch):
        store.update_vectors(chunk)
        store.set_payload([r.id for r in chunk], {"text_template": encoders.text_template})
    return len(rows)
