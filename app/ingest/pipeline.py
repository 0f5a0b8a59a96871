"""The ingestion pipeline: read → hash → skip what is stored → decode + edge map + its HOG
(`shape`, workers) → image/edge/text forwards (batched) → upsert.

Worker threads read, hash, decode and run Canny for the next chunk while the model runs
on the current one (Pillow, OpenCV and hashlib release the GIL), so the model does not
wait on I/O. Point ids come from file content, so a re-run skips what is stored and a run
killed half-way resumes where it stopped; each point is written whole or not at all.
"""

from __future__ import annotations

import gc
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from app.embedding import Encoders, edge_map
from app.embedding.cache import CachedVectors, EmbeddingCache
from app.embedding.edges import EDGE_VERSION
from app.embedding.shape import SHAPE_VERSION, shape_descriptor
from app.embedding.tags import normalize_tag, tags_vector
from app.errors import ClippyError
from app.imaging import decode_image
from app.ingest.sources import Item
from app.storage.base import VectorStore
from app.storage.payload import Payload
from app.storage.schema import CollectionSchema, content_sha256, point_id, tenant_filter
from app.storage.types import PointRecord, Vector, ViewQuery

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

# Library files may be far larger than an upload; bound them all the same.
MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass
class IngestOptions:
    library: str = "default"
    clip_batch: int = 32
    upsert_batch: int = 64
    workers: int = 2
    gc_every: int = 0  # items; 0 = never
    images_root: Path | None = None  # payload paths are stored relative to this
    max_pixels: int = 40_000_000
    source: str = "library"
    # Polled between chunks: an import job's cancellation stops the run there.
    should_stop: Callable[[], bool] | None = None
    # Picture/edge vectors by content: a file seen before (any library) skips the model.
    cache: EmbeddingCache | None = None
    # The files are this server's copies (imports): deleting the image may delete the file.
    # Set by the caller that made the copies, never by an item's extras.
    owned: bool = False
    # Leave out an item whose picture is this close (image-view cosine) to one already in
    # the library, or to one written earlier in the same run.
    skip_near_duplicates: bool = False
    near_duplicate_threshold: float = 0.95


@dataclass
class Failure:
    path: str
    reason: str


@dataclass
class NearDuplicate:
    path: str
    duplicate_of: str  # the id of the stored (or earlier) point it matches
    score: float


@dataclass
class IngestReport:
    seen: int = 0
    ingested: int = 0
    skipped: int = 0  # already stored (or the same content twice in this run)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    image_forwards: int = 0  # images through the image tower (pictures + edge maps)
    ids: list[str] = field(default_factory=list)  # ids written by this run
    near_duplicates: list[NearDuplicate] = field(default_factory=list)  # left out (skip_near_duplicates)

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def rate(self) -> float:
        return self.ingested / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "ingested": self.ingested,
            "skipped": self.skipped,
            "failed": self.failed,
            "near_duplicates": len(self.near_duplicates),
            "seconds": round(self.seconds, 2),
            "items_per_s": round(self.rate, 2),
        }


@dataclass
class _Hashed:
    item: Item
    data: bytes
    sha256: str
    id: str


@dataclass
class _Prepared:
    hashed: _Hashed
    picture: Any  # preprocessed tensor, or the vector when it came from the cache
    edges: Any
    width: int
    height: int
    cached: bool = False
    shape: np.ndarray | None = None  # `shape` view: HOG of the edge map (no model)
    shape_cached: bool = False


def _ordered_map(pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], ahead: int) -> Iterator[Future[R]]:
    """Like pool.map, but keeps at most `ahead` calls in flight (bounded memory)."""
    window: deque[Future[R]] = deque()
    for item in items:
        window.append(pool.submit(fn, item))
        if len(window) >= ahead:
            yield window.popleft()
    while window:
        yield window.popleft()


def _batched(it: Iterable[T], n: int) -> Iterator[list[T]]:
    iterator = iter(it)
    while chunk := list(islice(iterator, n)):
        yield chunk


class Ingestor:
    def __init__(self, encoders: Encoders, store: VectorStore, options: IngestOptions) -> None:
        self.encoders = encoders
        self.store = store
        self.opt = options
        self.schema = CollectionSchema(image_dim=encoders.clip.dim, text_dim=encoders.text.dim, space=encoders.space())
        store.ensure(self.schema, writing=True)

    # --- stages run in worker threads -----------------------------------------------------
    def _hash(self, item: Item) -> _Hashed | Failure:
        root = self.opt.images_root
        # The server serves only paths relative to its IMAGES_ROOT: a point stored with a path
        # outside it could be found by search but never shown (403), so it is not written.
        if root is not None and not item.path.resolve().is_relative_to(root.resolve()):
            return Failure(
                str(item.path), f"outside IMAGES_ROOT={root.resolve()}; set IMAGES_ROOT or pass --images-root"
            )
        try:
            size = item.path.stat().st_size
            if size > MAX_FILE_BYTES:
                return Failure(str(item.path), f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")
            data = item.path.read_bytes()
        except OSError as e:
            return Failure(str(item.path), f"unreadable: {e.strerror or e}")
        sha = content_sha256(data)
        return _Hashed(item, data, sha, point_id(sha, self.opt.library))

    def _prepare(self, h: _Hashed, hit: CachedVectors | None = None) -> _Prepared | Failure:
        """Decode, edge map and its HOG (`shape`), and the model's inputs — unless `hit`, a
        cache hit made before this shape version, already has the model's vectors."""
        try:
            img = decode_image(h.data, max_bytes=MAX_FILE_BYTES, max_pixels=self.opt.max_pixels, name=h.item.path.name)
            edges = edge_map(img)
            if hit is None:
                clip = self.encoders.clip
                prepared = _Prepared(h, clip.preprocess(img), clip.preprocess(edges), img.width, img.height)
            else:
                prepared = _Prepared(h, hit.image, hit.edge, hit.width, hit.height, cached=True)
            prepared.shape = shape_descriptor(edges)
            return prepared
        except ClippyError as e:
            return Failure(str(h.item.path), e.message)
        except Exception as e:  # one bad file must never abort the batch
            log.exception("unexpected failure preparing %s", h.item.path)
            return Failure(str(h.item.path), f"{type(e).__name__}: {e}")

    # --- main thread ------------------------------------------------------------------------
    def run(self, items: Iterable[Item], progress: Callable[[int], None] | None = None) -> IngestReport:
        report = IngestReport()
        started = time.perf_counter()
        seen_ids: set[str] = set()
        since_gc = 0
        workers = max(1, self.opt.workers)
        with ThreadPoolExecutor(workers, thread_name_prefix="ingest") as pool:
            hashed = (f.result() for f in _ordered_map(pool, self._hash, items, ahead=workers * 8))
            in_flight: deque[list[Future[_Prepared | Failure]]] = deque()
            for chunk in _batched(hashed, self.opt.upsert_batch):
                if self._stopped():
                    break
                report.seen += len(chunk)
                fresh = self._fresh(chunk, seen_ids, report)
                in_flight.append(self._submit_prepare(pool, fresh))
                if progress:
                    progress(len(chunk) - len(fresh))
                # One chunk decodes in the workers while the model runs on the one before.
                if len(in_flight) > 1 and not self._stopped():
                    done = self._embed_and_write(in_flight.popleft(), report)
                    since_gc += done
                    if progress:
                        progress(done)
                if self.opt.gc_every and since_gc >= self.opt.gc_every:
                    since_gc = 0
                    gc.collect()
                    if torch.cuda.is_available():
                        torch.cuda.empty_cache()
            while in_flight and not self._stopped():
                done = self._embed_and_write(in_flight.popleft(), report)
                if progress:
                    progress(done)
            for futures in in_flight:  # stopped: what is still queued is not prepared at all
                for f in futures:
                    f.cancel()
        report.seconds = time.perf_counter() - started
        return report

    def _stopped(self) -> bool:
        """Asked to stop (a cancelled job): nothing more is written, whatever is prepared."""
        return bool(self.opt.should_stop and self.opt.should_stop())

    def _fresh(self, chunk: list[_Hashed | Failure], seen_ids: set[str], report: IngestReport) -> list[_Hashed]:
        ok = [h for h in chunk if isinstance(h, _Hashed)]
        report.failures += [f for f in chunk if isinstance(f, Failure)]
        stored = self.store.existing_ids([h.id for h in ok])
        fresh = []
        for h in ok:
            if h.id in stored or h.id in seen_ids:
                report.skipped += 1
            else:
                seen_ids.add(h.id)
                fresh.append(h)
        return fresh

    def _submit_prepare(self, pool: ThreadPoolExecutor, fresh: list[_Hashed]) -> list[Future[_Prepared | Failure]]:
        hits = self.opt.cache.get_many([h.sha256 for h in fresh]) if self.opt.cache else {}
        futures: list[Future[_Prepared | Failure]] = []
        for h in fresh:
            if (hit := hits.get(h.sha256)) is not None and hit.shape is not None:
                done: Future[_Prepared | Failure] = Future()
                done.set_result(
                    _Prepared(h, hit.image, hit.edge, hit.width, hit.height, True, hit.shape, shape_cached=True)
                )
                futures.append(done)
            else:  # hit: the model's vectors are cached, not the shape descriptor; None: nothing is
                futures.append(pool.submit(self._prepare, h, hit))
        return futures

    def _embed_and_write(self, futures: list[Future[_Prepared | Failure]], report: IngestReport) -> int:
        results = [f.result() for f in futures]
        report.failures += [r for r in results if isinstance(r, Failure)]
        ready = [r for r in results if isinstance(r, _Prepared)]
        if not ready:
            return len(results)
        todo = [r for r in ready if not r.cached]
        if todo:
            computed = zip(
                self._forward([r.picture for r in todo]), self._forward([r.edges for r in todo]), strict=True
            )
            for r, (picture, edge) in zip(todo, computed, strict=True):
                r.picture, r.edges = picture, edge
            report.image_forwards += 2 * len(todo)
            if self.opt.cache:
                self.opt.cache.put_many((r.hashed.sha256, r.picture, r.edges, r.width, r.height) for r in todo)
        if self.opt.cache:
            self.opt.cache.put_shapes(
                (r.hashed.sha256, r.shape) for r in ready if r.shape is not None and not r.shape_cached
            )
        # After the cache (it keeps raw tower vectors): the adapter's image head, if any, so the
        # near-duplicate check and the store both see the collection's space.
        adapted = self.encoders.adapt("image", np.stack([r.picture for r in ready]))
        for r, picture in zip(ready, adapted, strict=True):
            r.picture = picture
        if self.opt.skip_near_duplicates:
            ready = self._drop_near_duplicates(ready, report)
            if not ready:
                return len(results)
        pictures = [r.picture for r in ready]
        edges = [r.edges for r in ready]
        texts = [self.encoders.tags_text(r.hashed.item.tags, r.hashed.item.extra.get("caption")) for r in ready]
        # Items often share a tags sentence: each distinct one goes through the tower once.
        distinct = list(dict.fromkeys(t for t in texts if t))
        by_text = dict(zip(distinct, self.encoders.text.encode_texts(distinct), strict=True))
        text_of = {i: by_text[t] for i, t in enumerate(texts) if t}
        points = []
        for i, r in enumerate(ready):
            vectors: dict[str, Vector] = {"image": pictures[i].tolist(), "edge": edges[i].tolist()}
            if r.shape is not None:
                vectors["shape"] = r.shape.tolist()
            if i in text_of:
                vectors["text"] = text_of[i].tolist()
            tags = [t for t in (normalize_tag(t) for t in r.hashed.item.tags) if t]
            if tags:
                vectors["tags"] = tags_vector(tags)
            points.append(PointRecord(id=r.hashed.id, vectors=vectors, payload=self._payload(r, tags)))
        if self._stopped():  # stopped during the forwards: a cancelled import writes nothing more
            return len(results)
        self.store.upsert(points)
        report.ingested += len(points)
        report.ids += [p.id for p in points]
        return len(results)

    def _drop_near_duplicates(self, ready: list[_Prepared], report: IngestReport) -> list[_Prepared]:
        """The items whose picture matches nothing in the library (the store's `image` view,
        this library only) nor an item kept earlier in this chunk at or above the threshold;
        earlier chunks are already stored, so the store query covers them."""
        threshold = self.opt.near_duplicate_threshold
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"`near_duplicate_threshold` must be between 0 and 1 but is {threshold}")
        library = tenant_filter(self.opt.library)
        kept: list[_Prepared] = []
        kept_unit: list[np.ndarray] = []
        for r in ready:
            vec = np.asarray(r.picture, dtype=np.float32)
            unit = vec / max(float(np.linalg.norm(vec)), 1e-12)
            best: tuple[str, float] | None = None
            hits = self.store.search(ViewQuery("image", vec.tolist(), 1), library)
            if hits:
                best = (hits[0].id, float(hits[0].score))
            for other, other_unit in zip(kept, kept_unit, strict=True):
                score = float(unit @ other_unit)
                if best is None or score > best[1]:
                    best = (other.hashed.id, score)
            if best is not None and best[1] >= threshold:
                report.near_duplicates.append(NearDuplicate(str(r.hashed.item.path), best[0], round(best[1], 6)))
            else:
                kept.append(r)
                kept_unit.append(unit)
        return kept

    def _forward(self, tensors: list[Any]) -> np.ndarray:
        out = [
            self.encoders.clip.encode_preprocessed(tensors[i : i + self.opt.clip_batch])
            for i in range(0, len(tensors), self.opt.clip_batch)
        ]
        return np.concatenate(out)

    def _payload(self, r: _Prepared, tags: list[str]) -> dict[str, Any]:
        path = r.hashed.item.path.resolve()  # as `_hash` checked it against the root
        root = self.opt.images_root.resolve() if self.opt.images_root else None
        stored_path = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
        computed = Payload(
            path=stored_path,
            tags=tags,
            sha256=r.hashed.sha256,
            width=r.width,
            height=r.height,
            bytes=len(r.hashed.data),
            library=self.opt.library,
            edge_version=EDGE_VERSION,
            shape_version=SHAPE_VERSION,
            text_template=self.encoders.text_template,
            ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        if self.opt.owned:  # set only when true: a point without the key is not owned
            computed = computed.model_copy(update={"owned": True})
        # Extras (manifest columns, import names) describe an item; they never set what the
        # pipeline computes, its tenant or `owned` (which lets DELETE unlink the file).
        described = Payload.described(computed, r.hashed.item.extra, where=path, source=self.opt.source)
        return described.stored()


def write_failures(path: Path, failures: list[Failure]) -> None:
    """The errors file: one JSON line per file that could not be ingested, with the reason."""
    with path.open("w", encoding="utf-8") as fh:
        for f in failures:
            fh.write(json.dumps({"path": f.path, "reason": f.reason}) + "\n")
