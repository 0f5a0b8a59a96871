"""Compute missing or stale named vectors for points already stored.

A point needs its `edge` vector (re)computed when it has none or its payload says another
edge version; its `text` vector when it has none (but has tags or a caption) or another
text template. Work is done in pages and each page is written before the next is read,
so an interrupted backfill resumes by simply running again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from app.embedding import Encoders, edge_map
from app.embedding.edges import EDGE_VERSION
from app.errors import ClippyError
from app.imaging import load_image_file
from app.ingest.pipeline import MAX_FILE_BYTES, Failure
from app.storage.base import VectorStore
from app.storage.files import safe_join
from app.storage.schema import CollectionSchema
from app.storage.types import PointRecord, StoredPoint

log = logging.getLogger(__name__)
Which = Literal["edge", "text", "both"]


@dataclass
class BackfillReport:
    scanned: int = 0
    updated: dict[str, int] = field(default_factory=lambda: {"edge": 0, "text": 0})
    failures: list[Failure] = field(default_factory=list)


def _needs(point: StoredPoint, view: str, encoders: Encoders) -> bool:
    p = point.payload
    if view == "edge":
        return "edge" not in point.vectors or p.get("edge_version") != EDGE_VERSION
    has_words = bool(p.get("tags") or p.get("caption"))
    stale = p.get("text_template") != encoders.text_template
    return has_words and ("text" not in point.vectors or stale)


def backfill(
    encoders: Encoders,
    store: VectorStore,
    images_root: Path,
    which: Which = "both",
    page_size: int = 64,
    max_pixels: int = 40_000_000,
    progress: Callable[[int], None] | None = None,
) -> BackfillReport:
    views = ["edge", "text"] if which == "both" else [which]
    schema = CollectionSchema(encoders.clip.dim, encoders.text.dim, encoders.space())
    # Readers' check: the edge version may differ — that is what a backfill is for.
    store.ensure(schema, writing=False)
    report = BackfillReport()
    offset: str | None = None
    while True:
        page, offset = store.scroll(limit=page_size, offset=offset, with_vectors=views)
        report.scanned += len(page)
        for view in views:
            todo = [p for p in page if _needs(p, view, encoders)]
            if todo:
                written = (
                    _fill_edge(encoders, store, images_root, todo, max_pixels, report)
                    if view == "edge"
                    else _fill_text(encoders, store, todo)
                )
                report.updated[view] += written
        if progress:
            progress(len(page))
        if offset is None:
            break
    if "edge" in views and not report.failures:
        # Every edge vector is now of this version: writers of this version may proceed.
        store.set_space({**(store.space() or {}), "edge": encoders.space()["edge"]})
    return report


def _fill_edge(
    encoders: Encoders,
    store: VectorStore,
    root: Path,
    points: list[StoredPoint],
    max_pixels: int,
    report: BackfillReport,
) -> int:
    ready: list[tuple[StoredPoint, object]] = []
    for p in points:
        try:
            img = load_image_file(
                safe_join(root, str(p.payload.get("path", ""))), max_bytes=MAX_FILE_BYTES, max_pixels=max_pixels
            )
            ready.append((p, encoders.clip.preprocess(edge_map(img))))
        except (ClippyError, OSError) as e:
            report.failures.append(Failure(str(p.payload.get("path")), getattr(e, "message", None) or str(e)))
    if not ready:
        return 0
    vecs = encoders.clip.encode_preprocessed([t for _, t in ready])
    store.update_vectors([PointRecord(p.id, {"edge": v.tolist()}, {}) for (p, _), v in zip(ready, vecs, strict=True)])
    store.set_payload([p.id for p, _ in ready], {"edge_version": EDGE_VERSION})
    return len(ready)


def _fill_text(encoders: Encoders, store: VectorStore, points: list[StoredPoint]) -> int:
    texts = [encoders.tags_text(list(p.payload.get("tags") or []), p.payload.get("caption")) for p in points]
    rows = [(p, t) for p, t in zip(points, texts, strict=True) if t]
    if not rows:
        return 0
    vecs = encoders.text.encode_texts([t for _, t in rows])
    store.update_vectors([PointRecord(p.id, {"text": v.tolist()}, {}) for (p, _), v in zip(rows, vecs, strict=True)])
    store.set_payload([p.id for p, _ in rows], {"text_template": encoders.text_template})
    return len(rows)
