"""Near-duplicate scan time (app/library/duplicates.py) on synthetic libraries.

Fills a store with `n` unit vectors (a low-rank signal plus noise, as bench_query.py) of which
a fraction has a planted near copy (cosine ≈ 0.98), then times the scan each way the
service can run it:

* qdrant-edge, one nearest-neighbour query per point (`--batches 1`, the old scan) and
  batched (`query_batch`, the sizes in `--batches`);
* qdrant-client (local mode, or `--qdrant-url`), with the engine's distance matrix
  (`search_matrix_pairs`) and with batched queries.

Each row reports seconds, points per second and the recall of the planted pairs (the exact
answer is a numpy scan). Usage:

    python scripts/bench_dedup.py --sizes 10000 --batches 1,16,64,256
    python scripts/bench_dedup.py --sizes 10000 --backends edge,local
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.library.duplicates import pairs_from_vectors, scan_near_pairs
from app.storage.base import VectorStore
from app.storage.edge import EdgeStore
from app.storage.paging import iter_points
from app.storage.remote import RemoteStore, connect
from app.storage.schema import CollectionSchema
from app.storage.types import PointRecord

THRESHOLD = 0.95


def synthesize(n: int, dim: int, copies: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(48, dim))
    vecs = rng.normal(size=(n, 48)) @ basis + 0.5 * np.sqrt(48) * rng.normal(size=(n, dim))
    n_copies = int(n * copies)
    # The last n_copies points are near copies of the first n_copies.
    vecs[n - n_copies :] = vecs[:n_copies] + 0.12 * np.linalg.norm(vecs[:n_copies], axis=1, keepdims=True) / np.sqrt(
        dim
    ) * rng.normal(size=(n_copies, dim))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs.astype(np.float32)


def fill(store: VectorStore, vecs: np.ndarray, batch: int = 512) -> float:
    dim = vecs.shape[1]
    space = {"model": "bench", "pretrained": "p", "image_dim": dim, "text_model": "clip", "text_dim": dim}
    store.create(CollectionSchema(image_dim=dim, text_dim=dim, space=space))
    started = time.perf_counter()
    for start in range(0, len(vecs), batch):
        store.upsert(
            [
                PointRecord(str(uuid.UUID(int=i + 1)), {"image": vecs[i].tolist()}, {"library": "bench"})
                for i in range(start, min(start + batch, len(vecs)))
            ]
        )
    store.optimize()
    return time.perf_counter() - started


def truth(vecs: np.ndarray) -> set[tuple[str, str]]:
    ids = [str(uuid.UUID(int=i + 1)) for i in range(len(vecs))]
    out = set()
    for start in range(0, len(vecs), 1024):
        sims = vecs[start : start + 1024] @ vecs.T
        for r, c in zip(*np.nonzero(sims >= THRESHOLD), strict=True):
            if start + int(r) < int(c):
                out.add((ids[start + int(r)], ids[int(c)]))
    return out


def timed(store: VectorStore, exact: set[tuple[str, str]], **how: Any) -> dict[str, Any]:
    started = time.perf_counter()
    items, pairs = scan_near_pairs(store, THRESHOLD, neighbours=10, **how)
    seconds = time.perf_counter() - started
    found = {(a, b) for a, b, _ in pairs}
    return {
        "seconds": round(seconds, 2),
        "points_per_s": round(len(items) / seconds),
        "pairs": len(found),
        "recall": round(len(found & exact) / len(exact), 4) if exact else 1.0,
    }


def numpy_scan(store: VectorStore, exact: set[tuple[str, str]]) -> dict[str, Any]:
    """For comparison: every vector read out of the store, then an exact blocked product."""
    started = time.perf_counter()
    ids, rows = [], []
    for pid, _, vectors in iter_points(store, None, with_vectors=["image"]):
        ids.append(pid)
        rows.append(vectors["image"])
    pairs = pairs_from_vectors(ids, np.stack(rows), THRESHOLD)
    seconds = time.perf_counter() - started
    found = {(a, b) if a < b else (b, a) for a, b, _ in pairs}
    return {
        "seconds": round(seconds, 2),
        "points_per_s": round(len(ids) / seconds),
        "pairs": len(found),
        "recall": round(len(found & exact) / len(exact), 4) if exact else 1.0,
    }


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        vecs = synthesize(n, args.dim, args.copies, args.seed)
        exact = truth(vecs)
        for backend in args.backends.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                store: VectorStore
                if backend == "edge":
                    store = EdgeStore(Path(tmp) / "edge", "bench")
                elif backend == "local":
                    store = RemoteStore(connect(f"local:{tmp}/local", None), "bench")
                elif backend == "server":
                    store = RemoteStore(connect(args.qdrant_url, None), f"bench_dedup_{n}")
                else:
                    raise ValueError(f"Unknown backend: {backend!r}. Valid: edge, local, server")
                try:
                    build = fill(store, vecs)
                    base = {"n": n, "backend": backend, "build_s": round(build, 1), "true_pairs": len(exact)}
                    if backend != "edge":
                        rows.append({**base, "how": "matrix", **timed(store, exact, use_matrix=True)})
                        print(json.dumps(rows[-1]), flush=True)  # noqa: T201
                    rows.append({**base, "how": "numpy (all vectors read)", **numpy_scan(store, exact)})
                    print(json.dumps(rows[-1]), flush=True)  # noqa: T201
                    for b in [int(x) for x in args.batches.split(",")]:
                        rows.append({**base, "how": f"batch {b}", **timed(store, exact, use_matrix=False, batch=b)})
                        print(json.dumps(rows[-1]), flush=True)  # noqa: T201
                finally:
                    if backend == "server":
                        store.client.delete_collection(store.collection)  # type: ignore[attr-defined]
                    store.close()
    return rows


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench_dedup.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", default="10000", help="library sizes, comma-separated (default: %(default)s)")
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--copies", type=float, default=0.05, help="fraction of points with a near copy")
    p.add_argument("--batches", default="1,16,64,256", help="query batch sizes (default: %(default)s)")
    p.add_argument("--backends", default="edge", help="edge, local (qdrant-client local mode), server")
    p.add_argument("--qdrant-url", help="a Qdrant server for the `server` backend")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="write the rows as JSON here")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rows = run(args)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
