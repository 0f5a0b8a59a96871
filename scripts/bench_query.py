"""Query speed: Qdrant (embedded qdrant-edge, or a server) against numpy and FAISS, same vectors.

For each library size (10k and 100k points; 1M with --big) it builds a synthetic collection
in Clippy's schema — three named dense vectors `image`, `edge`, `text` at the model's
dimension and sparse `tags` — from low-rank + noise vectors (closer to real embeddings than
uniform random ones, see shared notes), seeded, and times, per query:

  (a) single    one view, top 10                       store.search
  (b) fused     3-view Qdrant-side fusion alone, top 10   store.fused_query, no vectors back
      lists     the re-rank's first engine call alone     store.ranked_lists: each view's top
                                                         pool, ids and scores (its floor)
      fusion    the service's hybrid without re-rank     HybridSearcher, rerank=false (it still
                                                         scores every candidate in every view for the hits' views)
  (c) rerank    (b) + exact weighted re-rank             HybridSearcher, rerank=true
  (d) filter    (c) with a payload filter (one tag)      HybridSearcher, rerank=true

The hybrids take each candidate's exact per-view score from the engine (EXACT_SCORES=engine:
a batched has_id search per view, ids and scores only); the rows `fusion/vec`, `rerank/vec`,
`filter/vec` run the old path in the same run (EXACT_SCORES=vectors: candidates' vectors copied
out, dot products in numpy); `--exact-scores` picks one or both.

against numpy brute force (exact: the ground truth) and FAISS (flat, exact; HNSW), in the
same run on the same vectors, with recall@10 of each against the exact answer. For the
hybrids the exact answer is the service's own definition computed over the whole library:
each view's cosines, calibrated by its own top-`pool` distribution, weighted, summed.
Embedded runs time the store before and/or after `optimize()` (HNSW build; slow at 100k).

`--e2e` times POST /search/hybrid (multipart: sketch + text) through the real app with a
real random-weight model and splits it into decode, sketch normalisation, encoders, Qdrant,
re-rank and the rest (HTTP, validation, serialisation).

examples:
  python scripts/bench_query.py                        # 10k and 100k, embedded, before+after optimize
  python scripts/bench_query.py --sizes 10000 --e2e    # quick run + end-to-end split
  python scripts/bench_query.py --big                  # adds 1M points (needs ~10 GB RAM, long)
  python scripts/bench_query.py --qdrant-url http://localhost:6333
"""

from __future__ import annotations

import argparse
import io
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from bench_common import (
    RESULTS_DIR,
    format_table,
    latency_summary,
    limit_threads,
    time_calls,
    write_json,
)

log = logging.getLogger("bench_query")

VIEWS = ("image", "edge", "text")
WEIGHTS = {"image": 0.4, "edge": 0.4, "text": 0.2}
K = 10


# --- synthetic data -----------------------------------------------------------------------


@dataclass
class Synthetic:
    vectors: dict[str, np.ndarray]  # view → (n, dim) unit rows
    tags: list[list[str]]
    queries: dict[str, np.ndarray]  # view → (q, dim) unit rows
    filter_tag: str
    filter_share: float


def _low_rank(rng: np.random.Generator, latent: np.ndarray, basis: np.ndarray, noise: float) -> np.ndarray:
    rows = latent @ basis
    rows += noise * rng.standard_normal((len(latent), basis.shape[1]), dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def synthesize(
    n: int, dim: int, n_queries: int, rank: int, noise: float, seed: int, agreement: float = 0.0
) -> Synthetic:
    """Per view: rows = Z·B + noise·E (Z, B, E standard normal), unit length. Queries come
    from the same distribution. `agreement` ρ: each view's Z is ρ·(a latent the point's views
    share) + √(1−ρ²)·(its own), so views of one point agree (as a picture's image and edge
    views do); 0: independent views, the re-rank's worst case. Tags: a Zipf-like vocabulary
    of 2,000 terms, 3–6 per point."""
    rng = np.random.default_rng(seed)
    # The shared latents come from their own stream: with agreement 0 the data are the same as
    # before the option existed, so earlier figures compare.
    shared_rng = np.random.default_rng([seed, 1])
    shared = {
        "points": shared_rng.standard_normal((n, rank), dtype=np.float32),
        "queries": shared_rng.standard_normal((n_queries, rank), dtype=np.float32),
    }
    own = float(np.sqrt(1.0 - agreement**2))
    vectors, queries = {}, {}
    for view in VIEWS:
        basis = rng.standard_normal((rank, dim), dtype=np.float32) / np.sqrt(rank)
        scale = noise / np.sqrt(dim) * np.sqrt(rank)  # noise relative to the signal's per-dim size
        for out, key, count in ((vectors, "points", n), (queries, "queries", n_queries)):
            latent = own * rng.standard_normal((count, rank), dtype=np.float32) + agreement * shared[key]
            out[view] = _low_rank(rng, latent, basis, scale)
    vocab = [f"tag{i:04d}" for i in range(2000)]
    p = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    p /= p.sum()
    counts = rng.integers(3, 7, n)
    picks = rng.choice(len(vocab), size=int(counts.sum()), p=p)
    tags, at = [], 0
    for c in counts:
        tags.append(sorted({vocab[j] for j in picks[at : at + c]}))
        at += c
    filter_tag = vocab[4]  # common but selective: ~5–10% of points
    share = sum(filter_tag in t for t in tags) / n
    return Synthetic(vectors, tags, queries, filter_tag, share)


# --- exact answers (numpy) -----------------------------------------------------------------


def exact_single(vectors: np.ndarray, q: np.ndarray, mask: np.ndarray | None = None) -> list[int]:
    scores = vectors @ q
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    top = np.argpartition(-scores, K)[:K]
    return [int(i) for i in top[np.argsort(-scores[top], kind="stable")]]


def exact_hybrid(data: Synthetic, qi: int, pool: int, mask: np.ndarray | None = None) -> list[int]:
    """The service's weighted score over the whole library: per view cosines, calibrated
    by the view's own top-`pool` (app/search/calibration.py), weighted sum; top K."""
    from app.search.rerank import calibrate_view

    total = np.zeros(len(data.tags))
    for view, w in WEIGHTS.items():
        raw = data.vectors[view] @ data.queries[view][qi]
        if mask is not None:
            raw = np.where(mask, raw, np.nan)
        # calibrate_view takes the top-`pool` of the raw scores it is given.
        total += w * calibrate_view(raw.astype(np.float64), pool).calibrated
    if mask is not None:
        total = np.where(mask, total, -np.inf)
    top = np.argpartition(-total, K)[:K]
    return [int(i) for i in top[np.argsort(-total[top], kind="stable")]]


def recall(found: Sequence[Sequence[int]], truth: Sequence[Sequence[int]]) -> float:
    return float(np.mean([len(set(f[:K]) & set(t[:K])) / K for f, t in zip(found, truth, strict=True)]))


# --- FAISS ---------------------------------------------------------------------------------


class FaissIndexes:
    def __init__(
        self, data: Synthetic, hnsw_m: int, ef_construction: int, ef_search: int, hnsw_views: Sequence[str] = VIEWS
    ) -> None:
        import faiss

        self.faiss = faiss
        self.ef_search = ef_search
        self.flat: dict[str, Any] = {}
        self.hnsw: dict[str, Any] = {}
        self.build_s: dict[str, float] = {}
        for view, rows in data.vectors.items():
            flat = faiss.IndexFlatIP(rows.shape[1])
            flat.add(rows)
            self.flat[view] = flat
            if view not in hnsw_views:
                continue
            start = time.perf_counter()
            hnsw = faiss.IndexHNSWFlat(rows.shape[1], hnsw_m, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = ef_construction
            hnsw.add(rows)
            self.build_s[view] = round(time.perf_counter() - start, 2)
            self.hnsw[view] = hnsw

    def params(self, kind: str, mask_ids: np.ndarray | None) -> Any:
        sel = self.faiss.IDSelectorBatch(mask_ids) if mask_ids is not None else None
        if kind == "hnsw":
            return self.faiss.SearchParametersHNSW(efSearch=self.ef_search, sel=sel)
        return self.faiss.SearchParameters(sel=sel) if sel is not None else None

    def search(self, kind: str, view: str, q: np.ndarray, k: int, params: Any = None) -> list[int]:
        index = (self.hnsw if kind == "hnsw" else self.flat)[view]
        if params is None and kind == "hnsw":
            params = self.params("hnsw", None)
        _, ids = index.search(q[None, :], k, params=params)
        return [int(i) for i in ids[0] if i >= 0]


def union_rerank(data: Synthetic, qi: int, candidates: Sequence[int], pool: int) -> list[int]:
    """The service's re-rank (app/search/rerank) over a candidate union from another engine."""
    from app.search.rerank import calibrate_view, rank, weighted_total

    cand = np.asarray(sorted(set(candidates)))
    views = {
        view: calibrate_view((data.vectors[view][cand] @ data.queries[view][qi]).astype(np.float64), pool)
        for view in VIEWS
    }
    totals = weighted_total(views, WEIGHTS)
    order = rank([f"{int(c):09d}" for c in cand], totals)
    return [int(cand[i]) for i in order[:K]]


# --- Qdrant ------------------------------------------------------------------------------


def service_hnsw_ef() -> int:
    from app.config import Settings

    return int(Settings.model_fields["HNSW_EF"].default)


def rss_bytes(kind: str = "VmRSS") -> int:
    """This process's resident memory now (Linux /proc; 0 elsewhere): `VmRSS` all of it,
    `RssAnon` what only this process holds (the engine's heap: quantized vectors, graphs),
    `RssFile` file pages mapped and resident (memory-mapped vectors the kernel may evict)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{kind}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def point_uuid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def open_bench_store(args: argparse.Namespace, n: int, dim: int) -> tuple[Any, Path | None]:
    from app.storage.schema import CollectionSchema
    from app.storage.types import VectorStorage

    schema = CollectionSchema(image_dim=dim, text_dim=dim, space={"model": "synthetic", "image_dim": dim})
    # QUANTIZATION / VECTORS_ON_DISK as the service would create the collection.
    vectors = VectorStorage(args.quantization, on_disk=args.on_disk)
    collection = f"bench_{n}_{dim}"
    tmp: Path | None = None
    if args.qdrant_url:
        from app.storage.remote import RemoteStore, connect

        store: Any = RemoteStore(connect(args.qdrant_url, args.qdrant_api_key), collection, vectors=vectors)
        if store.exists():
            store.client.delete_collection(collection)
    else:
        from app.storage.edge import EdgeStore

        tmp = Path(tempfile.mkdtemp(prefix="clippy-bench-", dir=args.workdir))
        store = EdgeStore(tmp, collection, vectors=vectors)
    store.create(schema)
    return store, tmp


def upsert(store: Any, data: Synthetic, batch: int = 512) -> float:
    from app.embedding.tags import tags_vector
    from app.storage.types import PointRecord

    n = len(data.tags)
    start = time.perf_counter()
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        cols = {view: data.vectors[view][lo:hi].tolist() for view in VIEWS}
        store.upsert(
            [
                PointRecord(
                    id=point_uuid(i),
                    vectors={**{view: cols[view][i - lo] for view in VIEWS}, "tags": tags_vector(data.tags[i])},
                    payload={"tags": data.tags[i], "library": "default", "path": f"synthetic/{i}.png"},
                )
                for i in range(lo, hi)
            ]
        )
    return time.perf_counter() - start


class VectorSearcher:
    """The service's HybridSearcher, given synthetic query vectors through `search_encoded`."""

    def __init__(self, store: Any, data: Synthetic, exact_scores: str = "engine", hnsw_ef: int | None = None) -> None:
        from app.config import Settings
        from app.search.hybrid import HybridSearcher

        # Defaults (pool), but HNSW_EF and where the re-rank's per-view scores come from: the
        # engine (ids and scores) or the candidates' vectors copied out (the old path).
        chosen = {"EXACT_SCORES": exact_scores} | ({"HNSW_EF": hnsw_ef} if hnsw_ef else {})
        settings = Settings(_env_file=None, **chosen)  # type: ignore[call-arg]
        # No model: the queries come encoded; the searcher only names the model in its answer and
        # asks whether its weights are random (synthetic vectors carry signal in every view).
        clip = SimpleNamespace(name="synthetic", pretrained="synthetic", random_weights=False)
        encoders: Any = SimpleNamespace(clip=clip, text=SimpleNamespace(name="synthetic-text"))
        self.searcher = HybridSearcher(encoders, store, settings)
        self.settings = settings
        self.data = data

    def pool(self) -> int:
        return max(self.settings.MIN_POOL, self.settings.CANDIDATE_FACTOR * K)

    def hybrid(self, qi: int, rerank: bool, filter_tag: str | None = None) -> list[int]:
        from app.search.encoder import EncodedQuery
        from app.search.models import HybridQuery, SearchFilter

        enc = EncodedQuery()
        for view in VIEWS:
            enc.positives[view].append(self.data.queries[view][qi])
        query = HybridQuery(
            w_img=WEIGHTS["image"],
            w_edge=WEIGHTS["edge"],
            w_txt=WEIGHTS["text"],
            w_tags=0.0,
            limit=K,
            rerank=rerank,
            filter=SearchFilter(tags_all=[filter_tag]) if filter_tag else None,
        )
        hits = self.searcher.search_encoded(query, enc).hits
        return [int(h.id.rsplit("-", 1)[1]) for h in hits]

    def fused(self, qi: int) -> list[int]:
        """Qdrant-side fusion alone (prefetch per view, DBSF, weighted formula): no vectors back."""
        from app.storage.types import ViewQuery

        pool = self.pool()
        hits = self.searcher.store.fused_query(
            [ViewQuery(v, self.data.queries[v][qi].tolist(), pool) for v in VIEWS],
            [WEIGHTS[v] for v in VIEWS],
            None,
            K,
            hnsw_ef=max(self.settings.HNSW_EF, pool),
        )
        return [int(h.id.rsplit("-", 1)[1]) for h in hits]

    def lists(self, qi: int) -> list[int]:
        """The re-rank's first engine call alone (each view's top `pool`, ids and scores, read
        as the service reads them): the floor under the re-rank."""
        from app.storage.types import ViewQuery

        pool = self.pool()
        lists = self.searcher.store.ranked_lists(
            [ViewQuery(v, self.data.queries[v][qi].tolist(), pool) for v in VIEWS],
            hnsw_ef=max(self.settings.HNSW_EF, pool),
        )
        return [int(pid.rsplit("-", 1)[1]) for pid in lists[0].ids[:K]]

    def single(self, qi: int, view: str = "image") -> list[int]:
        from app.storage.types import ViewQuery

        hits = self.searcher.store.search(
            ViewQuery(view, self.data.queries[view][qi].tolist(), K), hnsw_ef=self.settings.HNSW_EF
        )
        return [int(h.id.rsplit("-", 1)[1]) for h in hits]


# --- one size ------------------------------------------------------------------------------


def bench_size(args: argparse.Namespace, n: int) -> list[dict[str, Any]]:
    nq = args.queries
    t0 = time.perf_counter()
    data = synthesize(n, args.dim, nq, args.rank, args.noise, args.seed, args.agreement)
    log.info(
        "n=%d: synthesized in %.1f s (filter tag on %.1f%% of points)",
        n,
        time.perf_counter() - t0,
        100 * data.filter_share,
    )
    mask = np.array([data.filter_tag in t for t in data.tags])
    rows: list[dict[str, Any]] = []

    def add(
        engine: str, case: str, fn: Callable[[int], list[int]], truth: list[list[int]] | None, **extra: Any
    ) -> None:
        times, found = time_calls(fn, nq, warmup=min(5, nq))
        hit_rate = round(recall(found, truth), 4) if truth is not None else None
        rows.append({"n": n, "engine": engine, "case": case, **latency_summary(times),
                     "recall@10": hit_rate, **extra})  # fmt: skip
        log.info("n=%d %-22s %-8s p50 %.2f ms recall %s", n, engine, case, rows[-1]["p50_ms"], hit_rate)

    efs = [int(e) for e in args.hnsw_ef.split(",")] if args.hnsw_ef else [service_hnsw_ef()]
    pool = max(200, 4 * K)  # the service's pool at limit 10 (MIN_POOL, CANDIDATE_FACTOR defaults)
    truth_single = [exact_single(data.vectors["image"], data.queries["image"][i]) for i in range(nq)]
    truth_hybrid = [exact_hybrid(data, i, pool) for i in range(nq)]
    truth_filter = [exact_hybrid(data, i, pool, mask) for i in range(nq)]

    # numpy brute force: the exact answers, timed.
    add(
        "numpy (exact)", "single", lambda i: exact_single(data.vectors["image"], data.queries["image"][i]), truth_single
    )
    add("numpy (exact)", "rerank", lambda i: exact_hybrid(data, i, pool), truth_hybrid)
    add("numpy (exact)", "filter", lambda i: exact_hybrid(data, i, pool, mask), truth_filter)

    if not args.no_faiss:
        t0 = time.perf_counter()
        hnsw_views = [v for v in args.faiss_hnsw_views.split(",") if v]
        fx = FaissIndexes(data, args.faiss_m, args.faiss_ef_construction, efs[0], hnsw_views)
        log.info("n=%d: FAISS indexes in %.1f s (HNSW build per view %s s)", n, time.perf_counter() - t0, fx.build_s)
        mask_ids = np.nonzero(mask)[0].astype(np.int64)
        for kind in ("flat", "hnsw"):
            name = f"faiss {kind}"
            extra = {"build_s": round(sum(fx.build_s.values()), 1)} if kind == "hnsw" else {}
            add(
                name,
                "single",
                lambda i, k=kind: fx.search(k, "image", data.queries["image"][i], K),
                truth_single,
                **extra,
            )

            def hybrid(i: int, k: str = kind, flt: bool = False) -> list[int]:
                params = fx.params(k, mask_ids) if flt else None
                cand = [c for v in VIEWS for c in fx.search(k, v, data.queries[v][i], pool, params)]
                return union_rerank(data, i, cand, pool)

            if kind == "hnsw" and set(fx.hnsw) != set(VIEWS):
                continue  # the hybrids need every view's index (--faiss-hnsw-views)
            add(name, "rerank", hybrid, truth_hybrid)
            add(name, "filter", lambda i, k=kind: hybrid(i, k, True), truth_filter)

    rss_before, anon_before = rss_bytes(), rss_bytes("RssAnon")
    store, tmp = open_bench_store(args, n, args.dim)
    try:
        up = upsert(store, data)
        log.info("n=%d: upserted in %.1f s", n, up)
        # The library's vectors are not needed past here (the truths are computed): at 1M they
        # are 6 GB the store's build would otherwise compete with.
        freed = sum(v.nbytes for v in data.vectors.values())
        data.vectors.clear()
        rss_before -= freed
        anon_before -= freed
        modes = ("engine", "vectors") if args.exact_scores == "both" else (args.exact_scores,)
        backend = "qdrant server" if args.qdrant_url else "qdrant-edge"
        if args.quantization != "none" or args.on_disk:
            backend += f" {args.quantization}{' on-disk' if args.on_disk else ''}"
        phases = (
            ["exact-scan", "optimized"]
            if args.optimize == "both"
            else ["optimized"]
            if args.optimize == "after"
            else ["exact-scan"]
        )
        if args.qdrant_url:
            phases = ["server"]
        for phase in phases:
            extra: dict[str, Any] = {"upsert_s": round(up, 1)}
            if phase == "optimized":
                t0 = time.perf_counter()
                store.optimize()
                extra["optimize_s"] = round(time.perf_counter() - t0, 1)
                log.info("n=%d: optimize() in %.1f s", n, extra["optimize_s"])
            for ef in efs if phase != "exact-scan" else efs[:1]:
                engine = f"{backend} ({phase}{f', ef {ef}' if len(efs) > 1 and phase != 'exact-scan' else ''})"
                searcher = VectorSearcher(store, data, hnsw_ef=ef)
                add(engine, "single", searcher.single, truth_single, **extra)
                if tmp is not None and ef == efs[0]:  # embedded: the store lives in this process and that folder
                    rows[-1]["ram_b_per_point"] = round(max(0, rss_bytes() - rss_before) / n)
                    rows[-1]["anon_b_per_point"] = round(max(0, rss_bytes("RssAnon") - anon_before) / n)
                    rows[-1]["disk_b_per_point"] = round(folder_bytes(tmp) / n)
                    log.info("n=%d: store RAM %d B/point (of it anonymous %d), disk %d B/point", n,
                             rows[-1]["ram_b_per_point"], rows[-1]["anon_b_per_point"],
                             rows[-1]["disk_b_per_point"])  # fmt: skip
                add(engine, "fused", searcher.fused, truth_hybrid)
                add(engine, "lists", searcher.lists, None)  # not an answer: no recall
                for mode in modes:
                    s = VectorSearcher(store, data, mode, hnsw_ef=ef)
                    tag = "" if mode == "engine" else "/vec"  # /vec: the old path, vectors copied out
                    add(engine, f"fusion{tag}", lambda i, s=s: s.hybrid(i, rerank=False), truth_hybrid)
                    add(engine, f"rerank{tag}", lambda i, s=s: s.hybrid(i, rerank=True), truth_hybrid)
                    add(
                        engine,
                        f"filter{tag}",
                        lambda i, s=s: s.hybrid(i, rerank=True, filter_tag=data.filter_tag),
                        truth_filter,
                    )
    finally:
        store.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


# --- end to end ----------------------------------------------------------------------------


def bench_e2e(args: argparse.Namespace) -> dict[str, Any]:
    """POST /search/hybrid with a sketch + text through the real app and a real (random-weight) model."""
    import torch
    from fastapi.testclient import TestClient
    from PIL import Image, ImageDraw

    from app.api.app import create_app
    from app.config import Settings
    from app.embedding import load_encoders
    from app.services import Services
    from app.storage.edge import EdgeStore
    from app.storage.schema import CollectionSchema

    tmp = Path(tempfile.mkdtemp(prefix="clippy-bench-e2e-", dir=args.workdir))
    try:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            MODEL_NAME=args.e2e_model,
            PRETRAINED="random",
            TEXT_MODEL="clip",
            DEVICE="cpu",
            QDRANT_PATH=tmp / "qdrant",
            THUMBS_ROOT=tmp / "thumbs",
            GENERATED_ROOT=tmp / "generated",
            AUTO_INGEST=False,
        )
        torch.manual_seed(args.seed)
        encoders = load_encoders(settings)
        dim = encoders.clip.dim
        store = EdgeStore(settings.QDRANT_PATH, settings.COLLECTION)
        store.create(CollectionSchema(image_dim=dim, text_dim=encoders.text.dim, space=encoders.space()))
        data = synthesize(args.e2e_points, dim, 1, args.rank, args.noise, args.seed)
        upsert(store, data)
        services = Services.open(settings, encoders=encoders, store=store)

        rng = np.random.default_rng(args.seed)
        sketches = []
        for _ in range(8):
            img = Image.new("RGB", (512, 512), "white")
            draw = ImageDraw.Draw(img)
            for _ in range(6):
                draw.line([tuple(int(v) for v in rng.integers(20, 492, 2)) for _ in range(4)], fill="black", width=4)
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            sketches.append(buf.getvalue())
        texts = ["a red bicycle", "a cat sleeping on a chair", "a lighthouse at night", "two apples"]

        split: dict[str, list[float]] = {
            k: [] for k in ("decode", "normalise", "encoders", "qdrant", "rerank", "rest", "total")
        }
        with TestClient(create_app(settings, services)) as client:
            for i in range(args.e2e_requests + 3):
                png, text = sketches[i % len(sketches)], texts[i % len(texts)]
                start = time.perf_counter()
                resp = client.post(
                    "/search/hybrid",
                    files={"sketch": ("s.png", png, "image/png")},
                    data={"queryText": text, "wImg": "1", "wEdge": "1", "wTxt": "1", "wTags": "0.5", "limit": "24"},
                )
                total = (time.perf_counter() - start) * 1000
                resp.raise_for_status()
                if i < 3:
                    continue  # warm-up
                # The service times its own stages (SearchResult.timings); the rest is HTTP,
                # multipart parsing, validation and serialising the answer.
                t = resp.json()["timings"]
                split["decode"].append(t["decodeMs"])
                split["normalise"].append(t["prepareMs"])
                split["encoders"].append(t["encodeMs"] - t["prepareMs"])
                split["qdrant"].append(t["searchMs"])
                split["rerank"].append(t["rerankMs"])
                split["rest"].append(max(0.0, total - t["totalMs"] - t["decodeMs"]))
                split["total"].append(total)
        store.close()
        return {
            "model": f"{args.e2e_model}/random",
            "points": args.e2e_points,
            "requests": args.e2e_requests,
            "threads": args.threads,
            "split_ms": {
                k: {"p50": round(float(np.percentile(v, 50)), 2), "p95": round(float(np.percentile(v, 95)), 2)}
                for k, v in split.items()
            },
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- command line -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench_query.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", default="10000,100000", help="library sizes, comma-separated (default: %(default)s)")
    p.add_argument("--big", action="store_true", help="add 1,000,000 points")
    p.add_argument("--dim", type=int, default=512, help="vector dimension (ViT-B-32: 512) (default: %(default)s)")
    p.add_argument("--rank", type=int, default=48, help="rank of the synthetic signal (default: %(default)s)")
    p.add_argument("--noise", type=float, default=0.5, help="noise relative to the signal (default: %(default)s)")
    p.add_argument(
        "--agreement",
        type=float,
        default=0.0,
        help="how much a point's views agree, 0..1 (0: independent views, the re-rank's worst case; "
        "a picture's image and edge views agree) (default: %(default)s)",
    )
    p.add_argument("--queries", type=int, default=200, help="timed queries per case (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--optimize", choices=("none", "after", "both"), default="both",
                   help="embedded store: time the exact scan (none), only after optimize() (after), or both "
                   "(default: %(default)s)")  # fmt: skip
    p.add_argument(
        "--hnsw-ef",
        help="HNSW search breadth: the service's HNSW_EF and FAISS's efSearch; several, comma-separated, "
        "give the optimized engine's rows once per value (FAISS takes the first) (default: the service's HNSW_EF)",
    )
    p.add_argument("--faiss-m", type=int, default=16, help="FAISS HNSW M (Qdrant's default m is 16)")
    p.add_argument("--faiss-ef-construction", type=int, default=100, help="FAISS efConstruction (Qdrant's default 100)")
    p.add_argument(
        "--faiss-hnsw-views",
        default=",".join(VIEWS),
        help="views that get a FAISS HNSW index; the hybrid cases need all three, and each build takes "
        "minutes at 100k on 2 cores (default: %(default)s)",
    )
    p.add_argument("--no-faiss", action="store_true")
    p.add_argument("--exact-scores", choices=("engine", "vectors", "both"), default="both",
                   help="where the hybrids' exact per-view scores come from: the engine (ids and scores, "
                   "the service's default), the candidates' vectors copied out (the old path, rows "
                   "`…/vec`), or both in one run for an A/B (default: %(default)s)")  # fmt: skip
    p.add_argument("--quantization", choices=("none", "int8"), default="none",
                   help="dense views' quantization (QUANTIZATION) (default: %(default)s)")  # fmt: skip
    p.add_argument("--on-disk", action="store_true", help="original vectors on disk (VECTORS_ON_DISK)")
    p.add_argument("--qdrant-url", help="benchmark a Qdrant server instead of the embedded engine")
    p.add_argument("--qdrant-api-key")
    p.add_argument("--workdir", type=Path, default=None, help="where the embedded store is built (default: a temp dir)")
    p.add_argument("--threads", type=int, default=2, help="torch/BLAS/FAISS threads (default: %(default)s)")
    p.add_argument("--e2e", action="store_true", help="also time POST /search/hybrid end to end")
    p.add_argument("--e2e-only", action="store_true", help="only the end-to-end timing")
    p.add_argument(
        "--e2e-model", default="ViT-B-32", help="OpenCLIP model for --e2e, random weights (default: %(default)s)"
    )
    p.add_argument("--e2e-points", type=int, default=10_000)
    p.add_argument("--e2e-requests", type=int, default=30)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_query.json")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    if not args.no_faiss:
        import faiss  # noqa: F401  (imported first so that limit_threads caps its OpenMP pool)
    limit_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()] + ([1_000_000] if args.big else [])
    rows: list[dict[str, Any]] = []
    report: dict[str, Any] = {
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "weights": WEIGHTS,
        "k": K,
        "rows": rows,
    }
    if not args.e2e_only:
        for n in sizes:
            rows += bench_size(args, n)
            write_json(args.out, report)  # keep what is done if a later size is stopped
    if args.e2e or args.e2e_only:
        report["e2e"] = bench_e2e(args)
    write_json(args.out, report)
    cols = ["n", "engine", "case", "p50_ms", "p95_ms", "p99_ms", "qps", "recall@10"]
    cols += [
        c
        for c in ("upsert_s", "optimize_s", "ram_b_per_point", "anon_b_per_point", "disk_b_per_point")
        if any(c in r for r in rows)
    ]
    print()
    print(format_table(rows, cols))
    if "e2e" in report:
        e = report["e2e"]
        print(f"\nPOST /search/hybrid, sketch + text, {e['model']}, {e['points']} points, {e['requests']} requests:")
        print(format_table([{"stage": k, "p50_ms": v["p50"], "p95_ms": v["p95"]} for k, v in e["split_ms"].items()]))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
