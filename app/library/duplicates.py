"""Exact and near duplicates: pure grouping, and a scan over a store.

* exact — the same file content (payload `sha256`). Within one library a second copy can
  never become a point (ids are uuid5(library, sha256), so ingestion skips it), so exact
  groups in a collection are the same content in several libraries; `files_by_content`
  finds copies among files on disk before they are imported.
* near — image-vector cosine at or above a threshold (re-encoded, resized, lightly edited
  copies). Each point asks the store for its nearest neighbours in the `image` view (an
  index lookup, not an N² scan); pairs above the threshold are joined transitively into
  groups (union-find), so A≈B and B≈C report one group {A, B, C}.

Every group suggests one member to keep: the most pixels, then the smallest id.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.library.models import DuplicateGroup, DuplicateMember, DuplicateReport
from app.storage.base import VectorStore
from app.storage.paging import iter_points, scope_filter
from app.storage.payload import Payload
from app.storage.types import Filter, ViewQuery


@dataclass(frozen=True)
class Item:
    """What grouping needs to know of a point (or a file)."""

    id: str
    sha256: str | None = None
    library: str | None = None
    path: str | None = None
    width: int | None = None
    height: int | None = None

    @classmethod
    def of(cls, pid: str, payload: Mapping[str, Any]) -> Item:
        p = Payload.read(payload)
        return cls(pid, p.sha256, p.library, p.path, p.width, p.height)


Pair = tuple[str, str, float]


def _check_threshold(threshold: float) -> None:
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"`threshold` must be between 0 and 1 but is {threshold}")


def _keep_key(item: Item) -> tuple[int, str]:
    return (-((item.width or 0) * (item.height or 0)), item.id)


def _member(item: Item, score: float | None = None) -> DuplicateMember:
    return DuplicateMember(
        id=item.id, library=item.library, path=item.path, width=item.width, height=item.height, score=score
    )


def exact_groups(items: Iterable[Item], *, per_library: bool = False) -> list[DuplicateGroup]:
    """Items sharing a sha256 (across the collection, or only within each library)."""
    buckets: dict[tuple[str | None, str], list[Item]] = defaultdict(list)
    for it in items:
        if it.sha256:
            buckets[(it.library if per_library else None, it.sha256)].append(it)
    groups = []
    for members in buckets.values():
        if len(members) < 2:
            continue
        members = sorted(members, key=_keep_key)
        groups.append(DuplicateGroup(kind="exact", keep=members[0].id, members=[_member(m) for m in members]))
    return sorted(groups, key=lambda g: (-len(g.members), g.keep))


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def near_groups(items: Sequence[Item], pairs: Iterable[Pair], threshold: float) -> list[DuplicateGroup]:
    """Connected components of the pairs scoring ≥ threshold; each member's `score` is its
    best cosine to another member, and the group's min/max span the pairs that joined it.
    Pairs with the same sha256 are left to `exact_groups`."""
    _check_threshold(threshold)
    by_id = {it.id: it for it in items}
    uf = _UnionFind()
    best: dict[str, float] = {}
    kept: list[Pair] = []
    for a, b, score in pairs:
        if a == b or score < threshold or a not in by_id or b not in by_id:
            continue
        if by_id[a].sha256 and by_id[a].sha256 == by_id[b].sha256:
            continue  # the same content: an exact group, not a near one
        uf.union(a, b)
        kept.append((a, b, score))
        best[a] = max(best.get(a, -1.0), score)
        best[b] = max(best.get(b, -1.0), score)
    components: dict[str, list[str]] = defaultdict(list)
    for pid in best:
        components[uf.find(pid)].append(pid)
    scores_of: dict[str, list[float]] = defaultdict(list)
    for a, _, score in kept:
        scores_of[uf.find(a)].append(score)
    groups = []
    for root, ids in components.items():
        members = sorted((by_id[i] for i in ids), key=_keep_key)
        scores = scores_of[root]
        groups.append(
            DuplicateGroup(
                kind="near",
                keep=members[0].id,
                members=[_member(m, round(best[m.id], 6)) for m in members],
                min_score=round(min(scores), 6),
                max_score=round(max(scores), 6),
            )
        )
    return sorted(groups, key=lambda g: (-len(g.members), -(g.max_score or 0), g.keep))


def pairs_from_vectors(ids: Sequence[str], vectors: np.ndarray, threshold: float, block: int = 1024) -> list[Pair]:
    """Every pair with cosine ≥ threshold among L2-normalised rows, exactly, block by block
    (memory O(block · N)); the store-free twin of `scan_near_pairs` for tests and small sets."""
    _check_threshold(threshold)
    vecs = np.asarray(vectors, dtype=np.float32)
    if vecs.ndim != 2 or len(vecs) != len(ids):
        raise ValueError(f"`vectors` must be ({len(ids)}, dim) but is {vecs.shape}")
    out: list[Pair] = []
    for start in range(0, len(ids), block):
        sims = vecs[start : start + block] @ vecs.T
        for r, c in zip(*np.nonzero(sims >= threshold), strict=True):
            i = start + int(r)
            if i < int(c):
                out.append((ids[i], ids[int(c)], float(sims[r, c])))
    return out


# --- over a store --------------------------------------------------------------------------


def scan_near_pairs(
    store: VectorStore,
    threshold: float,
    *,
    library: str | None = None,
    neighbours: int = 10,
    hnsw_ef: int | None = None,
    progress: Callable[[int], None] | None = None,
    scope: Filter | None = None,
    batch: int = 16,
    use_matrix: bool = True,
) -> tuple[list[Item], list[Pair]]:
    """Each point's `neighbours` nearest in the `image` view (same scope), pairs ≥ threshold.
    `scope` (the caller's readable libraries, app/library/access.py) narrows both the scan
    and the neighbours, so a report never names another tenant's private items.

    Where the engine has a distance-matrix API (Qdrant's search-matrix pairs, qdrant-client
    backend) one request finds every point's neighbours; otherwise (qdrant-edge) the points
    are read in pages and their neighbours asked `batch` queries at a time, so the engine
    plans each batch as one pass (bench/README.md measures the batch size). `progress(n)`
    is called with the points done since the last call.

    A group larger than `neighbours` + 1 is still found whole when its members chain
    together; raise `neighbours` for libraries with many copies of one picture."""
    _check_threshold(threshold)
    if batch < 1:
        raise ValueError(f"`batch` must be at least 1 but is {batch}")
    flt = scope.and_(scope_filter(library)) if scope else scope_filter(library)
    items: list[Item] = []
    pairs: dict[tuple[str, str], float] = {}

    def keep(a: str, b: str, score: float) -> None:
        if a != b and score >= threshold:
            key = (a, b) if a < b else (b, a)
            pairs[key] = max(pairs.get(key, -1.0), score)

    matrix = None
    if use_matrix:
        total = store.count(flt)
        matrix = store.matrix_pairs("image", flt, sample=total, limit=neighbours) if total > 1 else []
    if matrix is not None:
        for a, b, score in matrix:
            keep(a, b, score)
        for pid, payload, _ in iter_points(store, flt):
            items.append(Item.of(pid, payload))
            if progress:
                progress(1)
        return items, [(a, b, s) for (a, b), s in pairs.items()]

    pending: list[tuple[str, list[float]]] = []

    def flush() -> None:
        queries = [ViewQuery("image", vec, neighbours + 1) for _, vec in pending]
        # Each point finds itself too (one more neighbour asked); `keep` drops it.
        for (pid, _), hits in zip(pending, store.search_batch(queries, flt, hnsw_ef=hnsw_ef), strict=True):
            for hit in hits:
                keep(pid, hit.id, hit.score)
        if progress:
            progress(len(pending))
        pending.clear()

    for pid, payload, vectors in iter_points(store, flt, with_vectors=["image"]):
        items.append(Item.of(pid, payload))
        vec = vectors.get("image")
        if vec is None:
            if progress:
                progress(1)
            continue
        pending.append((pid, vec.tolist()))
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return items, [(a, b, s) for (a, b), s in pairs.items()]


def duplicate_report(
    store: VectorStore,
    threshold: float,
    *,
    library: str | None = None,
    neighbours: int = 10,
    hnsw_ef: int | None = None,
    progress: Callable[[int], None] | None = None,
    scope: Filter | None = None,
    batch: int = 16,
    use_matrix: bool = True,
    near: bool = True,
) -> DuplicateReport:
    """Exact groups (same content; across the libraries in `scope` unless `library` narrows
    the scan) and near groups (within the scanned scope); `near=False` reads payloads only
    (the cheap exact report)."""
    if not store.exists():
        return DuplicateReport(library=library, threshold=threshold, scanned=0, exact=[], near=[])
    if not near:
        flt = scope.and_(scope_filter(library)) if scope else scope_filter(library)
        items = [Item.of(pid, payload) for pid, payload, _ in iter_points(store, flt)]
        return DuplicateReport(
            library=library, threshold=threshold, scanned=len(items), exact=exact_groups(items), near=[]
        )
    items, pairs = scan_near_pairs(
        store,
        threshold,
        library=library,
        neighbours=neighbours,
        hnsw_ef=hnsw_ef,
        progress=progress,
        scope=scope,
        batch=batch,
        use_matrix=use_matrix,
    )
    return DuplicateReport(
        library=library,
        threshold=threshold,
        scanned=len(items),
        exact=exact_groups(items),
        near=near_groups(items, pairs, threshold),
    )


def files_by_content(paths: Iterable[Path], root: Path | None = None) -> list[DuplicateGroup]:
    """Exact copies among files (before import): groups of paths with the same sha256."""
    items = []
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        shown = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
        items.append(Item(id=shown, sha256=digest, path=shown))
    return exact_groups(items)
