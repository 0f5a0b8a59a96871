"""The one query encoder: each input of a query through its tower once, alone or many at a time.

Inputs reach views like this (docs/concepts.md, "How a query is routed"):
  text         → `image` (CLIP text tower, cross-modal; then ADAPTER's text head if set), `text` (text-view
                 encoder), `tags` (sparse terms)
  negativeText → the negatives of `image` and `text`
  sketch       → normalised like an edge map → `edge` (image tower) and `shape` (its HOG, no model)
  image        → `image` (then ADAPTER's image head if set), and its edge map → `edge` and `shape`

`encode_many` does the work of `encode` for many queries with one image-tower forward for
all their pictures and drawings and one forward per text encoder for all their texts, so an
evaluation or a benchmark encodes its queries as the service does, by construction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from app.embedding import Encoders, TextEncoder, edge_map, normalize_sketch
from app.embedding.shape import SHAPE, ShapeDescriptor, descriptor_for
from app.embedding.tags import query_vector
from app.search.batching import BatchSettings, MicroBatcher
from app.search.rerank import combine
from app.storage.base import VectorStore
from app.storage.types import ALL_VIEWS, DENSE_VIEWS, Sparse, Vector


@dataclass
class QueryInputs:
    text: str | None = None
    negative_text: str | None = None
    sketch: Image.Image | None = None
    image: Image.Image | None = None

    def sent(self) -> frozenset[str]:
        """`sketch`, `text`, `image`: the inputs present (negativeText alone is no input)."""
        present = {"sketch": self.sketch, "text": self.text, "image": self.image}
        return frozenset(name for name, value in present.items() if value is not None)


@dataclass
class EncodedQuery:
    positives: dict[str, list[np.ndarray]] = field(default_factory=lambda: {v: [] for v in DENSE_VIEWS})
    negatives: dict[str, list[np.ndarray]] = field(default_factory=lambda: {v: [] for v in DENSE_VIEWS})
    sparse: Sparse | None = None
    prepare_ms: float = 0.0  # sketch normalisation, edge maps, HOG: the image work before the model
    # The inputs the query sent (`sketch`, `text`, `image`): its kind picks the default weights.
    inputs: frozenset[str] = frozenset()

    def vectors(self) -> dict[str, Vector]:
        out: dict[str, Vector] = {
            view: combine(pos, self.negatives[view]).tolist() for view, pos in self.positives.items() if pos
        }
        if self.sparse is not None and self.sparse.indices:
            out["tags"] = self.sparse
        return out

    def copy(self) -> EncodedQuery:
        """New lists over the same vectors: a search can add its examples without changing this one."""
        return EncodedQuery(
            positives={v: list(vecs) for v, vecs in self.positives.items()},
            negatives={v: list(vecs) for v, vecs in self.negatives.items()},
            sparse=self.sparse,
            prepare_ms=self.prepare_ms,
            inputs=self.inputs,
        )


@dataclass
class _Drawing:
    """A line drawing both `edge` (through the image tower) and `shape` (its descriptor) see."""

    image: Image.Image
    shape: np.ndarray | None


class CollectionShape:
    """The `shape` descriptor of the version a collection records: a sketch is described as the
    stored vectors were, so a collection of an older version keeps answering until a backfill
    rewrites it, and queries switch within `ttl_s` of that, without a restart."""

    def __init__(self, store: VectorStore, ttl_s: float = 5.0) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._seen: tuple[float, str | None] | None = None  # (when read, the collection's version)

    def __call__(self) -> ShapeDescriptor:
        now = time.monotonic()
        if self._seen is None or now - self._seen[0] > self.ttl_s:
            self._seen = (now, ((self.store.space() or {}).get("shape") or {}).get("version"))
        return descriptor_for(self._seen[1])


class QueryEncoder:
    """Encodes `QueryInputs` for the views that will be searched, and only for those.

    `shape` names the descriptor for the `shape` view (a `CollectionShape` in the service);
    without one, the version ingest writes today."""

    def __init__(
        self,
        encoders: Encoders,
        shape: Callable[[], ShapeDescriptor] = lambda: SHAPE,
        batching: BatchSettings | None = None,
    ) -> None:
        self.encoders = encoders
        self.shape = shape
        # With `batching`, concurrent callers' inputs share one forward per tower
        # (app/search/batching.py); without, each call runs its own.
        self.batching = batching
        # (id(tower), "images" | "texts") → its queue: CLIP is an image and a text tower at once.
        self._batchers: dict[tuple[int, str], MicroBatcher[Any]] = {}
        self._lock = threading.Lock()

    def _forward(
        self, tower: object, kind: str, forward: Callable[[list[Any]], np.ndarray], items: list[Any]
    ) -> np.ndarray:
        if self.batching is None:
            return forward(items)
        key = (id(tower), kind)
        with self._lock:
            batcher = self._batchers.get(key)
            if batcher is None:
                name = f"{getattr(tower, 'name', type(tower).__name__)} {kind}"
                batcher = self._batchers[key] = self.batching.batcher(name, forward)
        return batcher(items)

    def queued(self) -> dict[str, int]:
        """Requests waiting per batched tower ("<model> images" / "<model> texts"), for load checks."""
        with self._lock:
            return {b.name: b.pending() for b in self._batchers.values()}

    def close(self) -> None:
        """Stop the batchers' workers (after what is queued)."""
        with self._lock:
            batchers, self._batchers = list(self._batchers.values()), {}
        for b in batchers:
            b.close()

    def encode(self, inputs: QueryInputs, views: Collection[str] = ALL_VIEWS) -> EncodedQuery:
        """One query; its image-tower inputs share one forward, its texts one per text encoder."""
        return self.encode_many([inputs], views)[0]

    def encode_many(self, batch: Sequence[QueryInputs], views: Collection[str] = ALL_VIEWS) -> list[EncodedQuery]:
        """Many queries, each as `encode` would give it, with one forward per tower for them all.

        An image object or a text that several queries share (the same sketch in a `sketch`
        and a `sketch+text` query) is prepared and encoded once. The batch is one forward:
        callers with thousands of queries pass them in slices to bound the memory."""
        out = [EncodedQuery() for _ in batch]
        wants_drawing = "edge" in views or "shape" in views
        pictures: list[Image.Image] = []  # the image tower's batch
        row_of: dict[int, int] = {}  # id(picture) → its row in `pictures`
        wanted: list[tuple[int, str, int]] = []  # (query, view, row) for every picture vector
        drawings: dict[tuple[int, str], _Drawing] = {}  # (id(source), how) → its drawing
        shape = self.shape() if "shape" in views else None

        def row(picture: Image.Image) -> int:
            if id(picture) not in row_of:
                row_of[id(picture)] = len(pictures)
                pictures.append(picture)
            return row_of[id(picture)]

        def drawing(source: Image.Image, how: str, make: Callable[[Image.Image], Image.Image]) -> _Drawing:
            key = (id(source), how)
            if key not in drawings:
                image = make(source)
                drawings[key] = _Drawing(image, shape.describe(image) if shape is not None else None)
            return drawings[key]

        for qi, inputs in enumerate(batch):
            started = time.perf_counter()
            out[qi].inputs = inputs.sent()
            mine: list[_Drawing] = []
            if inputs.sketch is not None and wants_drawing:
                mine.append(drawing(inputs.sketch, "sketch", normalize_sketch))
            if inputs.image is not None:
                if "image" in views:
                    wanted.append((qi, "image", row(inputs.image)))
                if wants_drawing:
                    mine.append(drawing(inputs.image, "edges", edge_map))
            for d in mine:
                if "edge" in views:
                    wanted.append((qi, "edge", row(d.image)))
                if d.shape is not None:
                    out[qi].positives["shape"].append(d.shape)
            if inputs.sketch is not None or inputs.image is not None:  # only image work is timed here
                out[qi].prepare_ms = round((time.perf_counter() - started) * 1000, 2)

        if pictures:
            clip = self.encoders.clip
            if self.batching is None:
                rows = clip.encode_images(pictures)
            else:  # preprocessing in the caller's thread, in parallel; only the forward is shared
                rows = self._forward(clip, "images", clip.encode_preprocessed, [clip.preprocess(p) for p in pictures])
            # Picture vectors of the `image` view as the collection stores them (ADAPTER's image head).
            image_rows = sorted({r for _, view, r in wanted if view == "image"})
            adapted: dict[int, np.ndarray] = {}
            if image_rows:
                adapted = dict(zip(image_rows, self.encoders.adapt("image", rows[image_rows]), strict=True))
            for qi, view, r in wanted:
                out[qi].positives[view].append(adapted[r] if view == "image" else rows[r])

        self._encode_texts(batch, views, out)
        if "tags" in views:
            for inputs, enc in zip(batch, out, strict=True):
                if inputs.text:
                    enc.sparse = query_vector(inputs.text)
        return out

    def _encode_texts(self, batch: Sequence[QueryInputs], views: Collection[str], out: list[EncodedQuery]) -> None:
        texts = list(dict.fromkeys(t for inputs in batch for t in (inputs.text, inputs.negative_text) if t))
        if not texts:
            return
        index = {t: i for i, t in enumerate(texts)}
        towers: dict[str, TextEncoder] = {"image": self.encoders.image_text, "text": self.encoders.text}
        rows_of: dict[int, np.ndarray] = {}  # with TEXT_MODEL=clip and no text head both views share one forward
        for view, tower in towers.items():
            if view not in views:
                continue
            if id(tower) not in rows_of:
                rows_of[id(tower)] = self._forward(tower, "texts", tower.encode_texts, texts)
            rows = rows_of[id(tower)]
            for inputs, enc in zip(batch, out, strict=True):
                if inputs.text:
                    enc.positives[view].append(rows[index[inputs.text]])
                if inputs.negative_text:
                    enc.negatives[view].append(rows[index[inputs.negative_text]])
