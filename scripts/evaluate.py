"""Search quality on a labelled query set: every view, a weight grid, fusion vs exact re-rank.

Input: an evaluation set folder (scripts/make_eval_set.py writes one) holding

    manifest.jsonl   the library: `path` (relative to the folder), `tags`, optional `category`/`labels`
    queries.jsonl    one query per line: `id`, and any of `sketch`, `text`, `image` (paths relative
                     to the folder; `image` is an example picture), plus what is relevant to it:
                     `relevant` (library paths or point ids), `relevantText` (for text-only queries;
                     defaults to `relevant`), `relevantLabels` (categories: with --relevance labels
                     every library item whose `category`/`labels` meet them counts)

and a collection holding that library (`--ingest` builds it from the manifest when it is empty).
Each query runs in every *mode* its fields allow — `sketch`, `text`, `sketch+text`, `image` —
through the service's own HybridSearcher, over a grid of configurations:

    each single view (image, edge, text, shape, tags) that the mode feeds;
    the CLIP-family dense views' weight simplex (image, edge, text; `shape` stays a single view
    so the grid and its figures match earlier runs) in steps of --step, sparse `tags` off / on
    (--tags-weight);
    `rerank` false (Qdrant-side fusion: per-view DBSF + weighted formula) and true (exact
    weighted re-rank of the candidate union).

Beside them, a weight-free baseline: HOG descriptors of the same normalised line drawings
(app/search/shape.py, its fixed 1,764-d settings), ranked exactly by cosine, for the modes
with a sketch or an image. The stored `shape` view is the collection's shape version (today
that HOG square-rooted and projected to 576 dims, app/embedding/shape.py), searched through
the service like any view; scripts/eval_shape.py compares descriptor variants on hard sketches.

Reports mAP@K, mAP@all, P@K, R@K, MRR and nDCG@K (app/search/metrics.py) per configuration:
a table on stdout, a JSON file, and PNG plots (mAP@K per view; mAP@K over the weight simplex).

The model is whatever the settings name (environment, `.env`, or the flags). With
PRETRAINED=random the weights come from --seed, so a collection built with `--ingest` and
queried later must use the same seed; the harness checks this on one stored item.

examples:
  # random-weight CLIP views + the packaged MiniLM text view on the openclipart set
  python scripts/evaluate.py --set /tmp/eval1000 --qdrant-path /tmp/clippy-eval/qdrant \\
      --collection eval1000 --ingest --model ViT-B-32 --pretrained random --text-model all-MiniLM-L6-v2
  # real CLIP weights, wherever they are cached
  python scripts/evaluate.py --set data/eval --qdrant-path data/eval-qdrant --ingest \\
      --model ViT-B-32 --pretrained laion2b_s34b_b79k
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from bench_common import RESULTS_DIR, format_table, limit_threads, write_json

log = logging.getLogger("evaluate")

DENSE = ("image", "edge", "text", "shape")
SINGLE_ONLY = ("shape",)  # in the single views, not in the weight simplex
MODES = ("sketch", "text", "sketch+text", "image")
# Which dense views each kind of input feeds (app/search/hybrid.py routes them this way).
FEEDS = {"sketch": {"edge", "shape"}, "text": {"image", "text"}, "image": {"image", "edge", "shape"}}
HOG = "hog (weight-free)"
DEFAULTS = "defaults (nothing sent)"
METRIC_KEYS = ("mAP@{k}", "mAP@all", "P@{k}", "R@{k}", "MRR", "nDCG@{k}")


# --- the query set -----------------------------------------------------------------------


@dataclass
class LibraryItem:
    path: str
    labels: set[str]


@dataclass
class EvalQuery:
    id: str
    sketch: Path | None = None
    text: str | None = None
    image: Path | None = None
    relevant: list[str] = field(default_factory=list)
    relevant_text: list[str] = field(default_factory=list)
    relevant_labels: list[str] = field(default_factory=list)

    def modes(self) -> list[str]:
        out = []
        if self.sketch:
            out.append("sketch")
        if self.text:
            out.append("text")
        if self.sketch and self.text:
            out.append("sketch+text")
        if self.image:
            out.append("image")
        return out


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise SystemExit(f"{path}:{n}: expected a JSON object")
                yield row


def read_library(manifest: Path) -> dict[str, LibraryItem]:
    items: dict[str, LibraryItem] = {}
    for row in read_jsonl(manifest):
        labels = {str(v) for v in (row.get("labels") or [])}
        if row.get("category"):
            labels.add(str(row["category"]))
        items[str(row["path"])] = LibraryItem(str(row["path"]), labels)
    return items


def read_queries(path: Path, root: Path) -> list[EvalQuery]:
    queries = []
    for n, row in enumerate(read_jsonl(path), start=1):
        q = EvalQuery(
            id=str(row.get("id") or f"q{n}"),
            sketch=root / row["sketch"] if row.get("sketch") else None,
            text=str(row["text"]).strip() or None if row.get("text") else None,
            image=root / row["image"] if row.get("image") else None,
            relevant=[str(r) for r in row.get("relevant") or []],
            relevant_text=[str(r) for r in row.get("relevantText") or []],
            relevant_labels=[str(r) for r in row.get("relevantLabels") or row.get("labels") or []],
        )
        if not q.modes():
            raise SystemExit(f"{path}:{n}: query {q.id!r} has no `sketch`, `text` or `image`")
        queries.append(q)
    return queries


def relevant_for(q: EvalQuery, mode: str, relevance: str, library: dict[str, LibraryItem]) -> set[str]:
    """Library paths relevant to `q` in `mode` (ids were mapped to paths when the set was read)."""
    if relevance == "labels":
        wanted = set(q.relevant_labels)
        return {p for p, item in library.items() if item.labels & wanted}
    if mode == "text" and relevance == "auto" and q.relevant_text:
        return set(q.relevant_text)
    return set(q.relevant)


# --- configurations ----------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    name: str
    kind: str  # "single" | "hybrid" | "baseline" | "defaults" (no weight, no rerank sent)
    weights: tuple[tuple[str, float], ...] = ()  # (view, weight); views with weight 0 left out
    rerank: bool = True

    @property
    def weight_map(self) -> dict[str, float]:
        return dict(self.weights)


def simplex(views: Sequence[str], step: float) -> list[dict[str, float]]:
    """Every weighting of `views` in multiples of `step` that sums to 1."""
    if not 0 < step <= 1 or abs(round(1 / step) - 1 / step) > 1e-9:
        raise SystemExit(f"`--step` must divide 1 (0.5, 0.25, 0.2, 0.1, …) but is {step}")
    n = round(1 / step)
    out = []
    for parts in product(range(n + 1), repeat=len(views)):
        if sum(parts) == n:
            out.append({v: p / n for v, p in zip(views, parts, strict=True)})
    return out


def _label(weights: dict[str, float]) -> str:
    short = {"image": "img", "edge": "edge", "text": "txt", "shape": "shape", "tags": "tags"}
    return " ".join(f"{short[v]}={w:g}" for v, w in weights.items() if w > 0)


def configs_for(mode: str, step: float, tags_weight: float) -> list[Config]:
    fed = sorted(set().union(*(FEEDS[part] for part in mode.split("+"))), key=DENSE.index)
    has_tags = "text" in mode.split("+")
    out: list[Config] = []
    singles = [*fed, *(["tags"] if has_tags else [])]
    for view in singles:
        # The service's default (rerank on) and Qdrant's own fusion over one view's list.
        out.append(Config(f"{view} only", "single", ((view, 1.0),), rerank=True))
        out.append(Config(f"{view} only fusion", "single", ((view, 1.0),), rerank=False))
    mixed = [v for v in fed if v not in SINGLE_ONLY]
    if len(mixed) > 1 or has_tags:
        for weights, tags_on, rerank in product(
            simplex(mixed, step), (False, True) if has_tags else (False,), (False, True)
        ):
            if tags_on:
                weights = {**weights, "tags": tags_weight}
            nonzero = tuple((v, w) for v, w in weights.items() if w > 0)
            if len(nonzero) < 2:
                continue  # a single view: listed above
            name = f"{_label(dict(nonzero))} {'rerank' if rerank else 'fusion'}"
            out.append(Config(name, "hybrid", nonzero, rerank))
    # `shape` stays out of the simplex (it would square the grid); it is paired, half and
    # half, with each other view the mode feeds, so its mixes are measured too.
    if "shape" in fed:
        for partner, tags_on, rerank in product(
            [v for v in fed if v != "shape"], (False, True) if has_tags else (False,), (False, True)
        ):
            pair = {partner: 0.5, "shape": 0.5} | ({"tags": tags_weight} if tags_on else {})
            name = f"{_label(pair)} {'rerank' if rerank else 'fusion'}"
            out.append(Config(name, "hybrid", tuple(pair.items()), rerank))
    return out


# --- running the searcher ----------------------------------------------------------------


def _open(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from app.cli_common import settings_from_flags
    from app.embedding import load_encoders
    from app.storage import open_store

    settings = settings_from_flags(
        MODEL_NAME=args.model,
        PRETRAINED=args.pretrained,
        TEXT_MODEL=args.text_model,
        MODEL_CONFIGS=args.model_configs,
        DEVICE=args.device,
        QDRANT_PATH=args.qdrant_path,
        QDRANT_URL=args.qdrant_url,
        COLLECTION=args.collection,
        # Random weights come from this seed: every run (the one that ingested, the ones that
        # query) holds the same model, and the collection refuses another seed.
        RANDOM_SEED=args.seed,
    )
    encoders = load_encoders(settings)
    store = open_store(settings)
    return settings, encoders, store


def ensure_collection(
    encoders: Any, store: Any, root: Path, manifest: Path, ingest: bool, library: str, optimize_threshold: int
) -> None:
    from app.ingest.pipeline import IngestOptions, Ingestor
    from app.ingest.sources import read_manifest

    expected = sum(1 for _ in read_jsonl(manifest))
    have = store.count() if store.exists() else 0
    if have >= expected:
        # A collection made before the `shape` view gets it added and filled: HOG of the
        # stored pictures' edge maps, no model, only for points that lack it.
        from app.ingest.backfill import backfill

        filled = backfill(encoders, store, root, "shape").updated["shape"]
        if filled:
            log.info("computed the `shape` view for %d stored items", filled)
        return
    if not ingest:
        raise SystemExit(
            f"collection {store.collection!r} holds {have} of the {expected} library items; "
            "add --ingest to embed the manifest into it"
        )
    log.info("ingesting %d items from %s (have %d)", expected, manifest, have)
    report = Ingestor(encoders, store, IngestOptions(library=library, images_root=root, workers=1)).run(
        read_manifest(manifest, base=root)
    )
    log.info("ingested: %s", report.summary())
    if report.failures:
        log.warning("%d library items failed to ingest, e.g. %s", report.failed, report.failures[:3])
    if store.count() >= optimize_threshold:
        store.optimize()  # as `clippy ingest` does: HNSW for big libraries


def id_to_path(store: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    offset = None
    while True:
        points, offset = store.scroll(limit=1000, offset=offset)
        out.update({p.id: str(p.payload.get("path")) for p in points})
        if offset is None:
            return out


def check_same_model(encoders: Any, store: Any, root: Path, paths: dict[str, str]) -> None:
    """One stored item re-encoded must match its stored `image` vector (a random model with
    another seed, or another model under the same name, would not)."""
    from PIL import Image

    pid, rel = next(iter(paths.items()))
    stored = store.retrieve([pid], with_vectors=["image"])[0].vectors.get("image")
    if stored is None or not (root / rel).is_file():
        return
    with Image.open(root / rel) as img:
        fresh = encoders.adapt("image", encoders.clip.encode_images([img.convert("RGB")]))[0]
    cos = float(np.dot(fresh, stored))
    if cos < 0.99:
        raise SystemExit(
            f"the running model does not reproduce the collection's vectors (cosine {cos:.3f} on {rel!r}): "
            "with PRETRAINED=random pass the --seed the collection was ingested with, or re-ingest"
        )


def encode_queries(encoder: Any, items: list[tuple[EvalQuery, str]], per_batch: int = 16) -> dict[tuple[str, str], Any]:
    """Every (query, mode) through the service's own QueryEncoder, `per_batch` queries (all
    their modes) per `encode_many`: a sketch that `sketch` and `sketch+text` share, or a text
    that `text` and `sketch+text` share, goes through its tower once."""
    started = time.perf_counter()
    by_query: dict[str, list[tuple[EvalQuery, str]]] = {}
    for q, mode in items:
        by_query.setdefault(q.id, []).append((q, mode))
    groups = list(by_query.values())
    out: dict[tuple[str, str], Any] = {}
    for i in range(0, len(groups), per_batch):
        batch = [item for group in groups[i : i + per_batch] for item in group]
        encoded = encoder.encode_many(_query_inputs(batch))
        out.update(((q.id, mode), e) for (q, mode), e in zip(batch, encoded, strict=True))
    log.info("encoded %d queries (%d query modes) in %.1f s", len(groups), len(out), time.perf_counter() - started)
    return out


def _query_inputs(batch: list[tuple[EvalQuery, str]]) -> list[Any]:
    """What the service would receive for each (query, mode); one image object per file, so
    the encoder prepares and encodes a picture the batch shares once (it dedups by identity)."""
    from PIL import Image

    from app.search.encoder import QueryInputs

    loaded: dict[Path, Image.Image] = {}

    def load(path: Path) -> Image.Image:
        if path not in loaded:
            with Image.open(path) as img:
                loaded[path] = img.convert("RGB")
        return loaded[path]

    out = []
    for q, mode in batch:
        parts = mode.split("+")
        out.append(
            QueryInputs(
                text=q.text if "text" in parts else None,
                sketch=load(q.sketch) if "sketch" in parts and q.sketch else None,
                image=load(q.image) if mode == "image" and q.image else None,
            )
        )
    return out


def ranked(searcher: Any, encoded: Any, config: Config, depth: int, paths: dict[str, str]) -> list[str]:
    """One pre-encoded query through the service's own search (fusion, re-rank, calibration)."""
    from app.search.models import HybridQuery

    if config.kind == "defaults":  # what a request that sends no weight and no `rerank` gets
        result = searcher.search_encoded(HybridQuery(limit=depth), encoded)
        return [paths.get(h.id, h.path or h.id) for h in result.hits]
    w = config.weight_map
    query = HybridQuery(
        w_img=w.get("image", 0.0),
        w_edge=w.get("edge", 0.0),
        w_txt=w.get("text", 0.0),
        w_shape=w.get("shape", 0.0),
        w_tags=w.get("tags", 0.0),
        limit=depth,
        rerank=config.rerank,
    )
    result = searcher.search_encoded(query, encoded)
    return [paths.get(h.id, h.path or h.id) for h in result.hits]


# --- the weight-free baseline ------------------------------------------------------------


def hog_rankings(
    root: Path, library: dict[str, LibraryItem], items: list[tuple[EvalQuery, str]], depth: int
) -> dict[tuple[str, str], list[str]]:
    from PIL import Image

    from app.search.shape import picture_descriptor, rank_by_cosine, sketch_descriptor

    started = time.perf_counter()
    lib_paths = sorted(library)
    rows = []
    for rel in lib_paths:
        with Image.open(root / rel) as img:
            rows.append(picture_descriptor(img.convert("RGB")))
    matrix = np.stack(rows)
    out: dict[tuple[str, str], list[str]] = {}
    for q, mode in items:
        if mode == "sketch" and q.sketch:
            with Image.open(q.sketch) as img:
                vec = sketch_descriptor(img.convert("RGB"))
        elif mode == "image" and q.image:
            with Image.open(q.image) as img:
                vec = picture_descriptor(img.convert("RGB"))
        else:
            continue
        out[(q.id, mode)] = [p for p, _ in rank_by_cosine(vec, matrix, lib_paths, depth)]
    log.info(
        "HOG baseline: %d library items, %d queries in %.1f s", len(lib_paths), len(out), time.perf_counter() - started
    )
    return out


# --- scoring and reporting ---------------------------------------------------------------


def score(rankings: dict[str, list[str]], relevant: dict[str, set[str]], k: int) -> dict[str, float]:
    from app.search.metrics import mean_metrics, query_metrics

    per_query = [query_metrics(rankings[qid], relevant[qid], k) for qid in rankings if relevant.get(qid)]
    if not per_query:
        return {}
    return {name: round(v, 4) for name, v in mean_metrics(per_query, k).items()} | {"queries": len(per_query)}


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    root = args.set.resolve()
    manifest = args.manifest or root / "manifest.jsonl"
    library = read_library(manifest)
    queries = read_queries(args.queries or root / "queries.jsonl", root)
    if args.max_queries:
        queries = queries[: args.max_queries]
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        raise SystemExit(f"`--modes` takes {list(MODES)}, got {sorted(unknown)}")
    from app.errors import ModelMismatchError

    settings, encoders, store = _open(args)
    try:
        try:
            ensure_collection(
                encoders, store, root, manifest, args.ingest, settings.DEFAULT_LIBRARY, settings.OPTIMIZE_THRESHOLD
            )
        except ModelMismatchError as e:
            raise SystemExit(
                f"{e.message} With PRETRAINED=random pass the --seed the collection was ingested with."
            ) from e
        paths = id_to_path(store)
        check_same_model(encoders, store, root, paths)
        missing = set(library) - set(paths.values())
        if missing:
            log.warning("%d manifest items are not in the collection, e.g. %s", len(missing), sorted(missing)[:3])
        for q in queries:  # relevant point ids → library paths
            q.relevant = [paths.get(r, r) for r in q.relevant]
            q.relevant_text = [paths.get(r, r) for r in q.relevant_text]

        from app.search.hybrid import HybridSearcher

        items = [(q, m) for q in queries for m in q.modes() if m in modes]
        searcher = HybridSearcher(encoders, store, settings)
        encoded = encode_queries(searcher.encoder, items)
        hog = hog_rankings(root, library, items, args.depth) if args.hog else {}

        results: list[dict[str, Any]] = []
        for mode in modes:
            mode_items = [(q, m) for q, m in items if m == mode]
            if not mode_items:
                continue
            relevant = {q.id: relevant_for(q, mode, args.relevance, library) for q, _ in mode_items}
            configs = configs_for(mode, args.step, args.tags_weight)
            if hog and mode in ("sketch", "image"):
                configs.insert(0, Config(HOG, "baseline"))
            configs.insert(0, Config(DEFAULTS, "defaults"))
            started = time.perf_counter()
            for config in configs:
                t0 = time.perf_counter()
                if config.kind == "baseline":
                    rankings = {q.id: hog[(q.id, mode)] for q, _ in mode_items}
                else:
                    rankings = {
                        q.id: ranked(searcher, encoded[(q.id, mode)], config, args.depth, paths) for q, _ in mode_items
                    }
                row = {
                    "mode": mode,
                    "config": config.name,
                    "kind": config.kind,
                    "weights": config.weight_map,
                    "rerank": config.rerank if config.kind in ("single", "hybrid") else None,
                    **score(rankings, relevant, args.k),
                    "ms_per_query": round((time.perf_counter() - t0) * 1000 / len(mode_items), 2),
                }
                results.append(row)
            log.info(
                "mode %s: %d configs × %d queries in %.0f s",
                mode,
                len(configs),
                len(mode_items),
                time.perf_counter() - started,
            )
        shipped = searcher.defaults
    finally:
        store.close()
    return {
        "defaults": {
            "source": shipped.table.source,
            "without_signal": shipped.no_signal,
            "kinds": {m: _kind_row(shipped.for_kind(m)) for m in modes},  # as this run used them
            "table": shipped.table.to_json(),  # the shipped table, before the no-signal rule
        },
        "set": str(root),
        "k": args.k,
        "depth": args.depth,
        "relevance": args.relevance,
        "step": args.step,
        "tags_weight": args.tags_weight,
        "model": encoders.space(),
        "random_clip_weights": bool(getattr(encoders.clip, "random_weights", False)),
        "collection": {"name": settings.COLLECTION, "points": len(paths)},
        "queries": len(queries),
        "results": results,
    }


def _kind_row(row: Any) -> dict[str, Any]:
    return {"weights": dict(row.weights), "rerank": row.rerank}


def recommend(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per mode (query kind): the grid setting with the best mAP@K (then MRR, then the fewest
    views: a tie goes to the simpler setting), as a defaults-table row, with its figures and
    those of the defaults row beside it."""
    k = report["k"]
    metric = f"mAP@{k}"
    out: dict[str, dict[str, Any]] = {}
    for mode in dict.fromkeys(r["mode"] for r in report["results"]):
        rows = [r for r in report["results"] if r["mode"] == mode]
        grid = [r for r in rows if r["kind"] in ("single", "hybrid") and metric in r]
        if not grid:
            continue
        best = max(grid, key=lambda r: (r[metric], r.get("MRR", 0.0), -len(r["weights"])))
        defaults = next((r for r in rows if r["kind"] == "defaults"), None)
        out[mode] = {
            "weights": {v: float(best["weights"].get(v, 0.0)) for v in ("image", "edge", "shape", "text", "tags")},
            "rerank": bool(best["rerank"]),
            "config": best["config"],
            metric: best[metric],
            f"defaults {metric}": defaults.get(metric) if defaults else None,
        }
    return out


def defaults_table(report: dict[str, Any], recommended: dict[str, dict[str, Any]], out: Path) -> dict[str, Any]:
    """A defaults table (app/search/defaults.json's shape) from the recommendation, citing the
    run; kinds the run did not measure keep the shipped rows."""
    model = report["model"]
    source = (
        f"scripts/evaluate.py on {Path(report['set']).name} ({report['collection']['points']} items, "
        f"{report['queries']} queries, K={report['k']}, step {report['step']}), "
        f"{model.get('model')}/{model.get('pretrained')} + text view {model.get('text_model')}, "
        f"{time.strftime('%Y-%m-%d')}: {out.name}"
    )
    kinds = dict(report["defaults"]["table"]["kinds"]) | {
        m: {"weights": r["weights"], "rerank": r["rerank"]} for m, r in recommended.items()
    }
    return {"source": source, "kinds": kinds}


def summary_rows(report: dict[str, Any], full: bool) -> list[dict[str, Any]]:
    k = report["k"]
    keys = [key.format(k=k) for key in METRIC_KEYS]
    rows = []
    by_mode: dict[str, list[dict[str, Any]]] = {}
    for r in report["results"]:
        by_mode.setdefault(r["mode"], []).append(r)
    for mode, rs in by_mode.items():
        chosen = rs
        if not full:
            # Singles and the baseline, then the best hybrids by mAP@K (fusion and rerank).
            hybrids = sorted((r for r in rs if r["kind"] == "hybrid"), key=lambda r: -r.get(f"mAP@{k}", 0))
            best = {}
            for r in hybrids:
                best.setdefault(r["rerank"], r)
            equal = [r for r in hybrids if _is_equal_weights(r["weights"])]
            chosen = [r for r in rs if r["kind"] != "hybrid"] + list(best.values()) + equal
            chosen = list({id(r): r for r in chosen}.values())
        for r in chosen:
            rows.append({"mode": mode, "config": r["config"], **{key: r.get(key) for key in keys}})
    return rows


def _is_equal_weights(weights: dict[str, float]) -> bool:
    dense = [w for v, w in weights.items() if v != "tags"]
    return len(dense) > 1 and max(dense) - min(dense) < 1e-9


# --- plots --------------------------------------------------------------------------------


def plot(report: dict[str, Any], out_dir: Path, stem: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = report["k"]
    metric = f"mAP@{k}"
    written: list[Path] = []
    results = report["results"]
    modes = list(dict.fromkeys(r["mode"] for r in results))

    # Bars: each single view (and the baseline) per mode.
    fig, axes = plt.subplots(1, len(modes), figsize=(3.2 * len(modes) + 1, 3.6), squeeze=False)
    for ax, mode in zip(axes[0], modes, strict=True):
        rs = [
            r
            for r in results
            if r["mode"] == mode and (r["kind"] == "baseline" or (r["kind"] == "single" and r["rerank"]))
        ]
        names = [r["config"].replace(" only", "").replace(" (weight-free)", "") for r in rs]
        values = [r.get(metric, 0.0) for r in rs]
        colours = ["#999999" if r["kind"] == "baseline" else "#4477aa" for r in rs]
        ax.bar(names, values, color=colours)
        ax.set_title(f"{mode} queries")
        ax.set_ylim(0, max(0.05, max(values, default=0) * 1.15))
        ax.tick_params(axis="x", rotation=30)
        for i, v in enumerate(values):
            ax.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
    axes[0][0].set_ylabel(metric)
    fig.suptitle(f"{metric} per view ({report['model'].get('model')}/{report['model'].get('pretrained')})", fontsize=10)
    fig.tight_layout()
    path = out_dir / f"{stem}_views.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    written.append(path)

    # Heatmaps over the weight simplex, for modes that feed all three dense views.
    for mode in modes:
        rs = [
            r
            for r in results
            if r["mode"] == mode and r["kind"] in ("single", "hybrid") and not set(r["weights"]) & set(SINGLE_ONLY)
        ]
        fed = sorted({v for r in rs for v in r["weights"] if v != "tags"}, key=DENSE.index)
        if len(fed) != 3:
            continue
        variants = sorted({("tags" in r["weights"], r["rerank"]) for r in rs if r["kind"] == "hybrid"})
        n = round(1 / report["step"])
        fig, axes = plt.subplots(1, len(variants), figsize=(3.6 * len(variants), 3.6), squeeze=False)
        for ax, (tags_on, rerank) in zip(axes[0], variants, strict=True):
            grid = np.full((n + 1, n + 1), np.nan)
            for r in rs:
                w = r["weights"]
                if ("tags" in w) != tags_on:
                    continue
                if r["rerank"] != rerank:
                    continue
                if r["kind"] == "single" and (tags_on or "tags" in w):
                    continue
                i, j = round(w.get(fed[0], 0) * n), round(w.get(fed[1], 0) * n)
                grid[j, i] = r.get(metric, np.nan)
            im = ax.imshow(grid, origin="lower", cmap="viridis", extent=(-0.5 / n, 1 + 0.5 / n, -0.5 / n, 1 + 0.5 / n))
            for (j, i), v in np.ndenumerate(grid):
                if not np.isnan(v):
                    ax.text(i / n, j / n, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white")
            ax.set_xlabel(f"w_{fed[0]}")
            ax.set_ylabel(f"w_{fed[1]}  (w_{fed[2]} = 1 − the others)")
            ax.set_title(f"{'tags on' if tags_on else 'tags off'}, {'rerank' if rerank else 'fusion'}", fontsize=9)
            fig.colorbar(im, ax=ax, fraction=0.046)
        fig.suptitle(f"{metric} over the weight simplex, {mode} queries", fontsize=10)
        fig.tight_layout()
        path = out_dir / f"{stem}_simplex_{mode.replace('+', '_')}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written


# --- command line -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="evaluate.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--set", type=Path, required=True, help="evaluation set folder (manifest.jsonl, queries.jsonl)")
    p.add_argument("--manifest", type=Path, help="library manifest (default: SET/manifest.jsonl)")
    p.add_argument("--queries", type=Path, help="query file (default: SET/queries.jsonl)")
    p.add_argument("--ingest", action="store_true", help="embed the manifest into the collection if it is not there")
    p.add_argument("--modes", default=",".join(MODES), help="query modes to run (default: %(default)s)")
    p.add_argument("--relevance", choices=("auto", "exact", "labels"), default="auto",
                   help="auto: `relevant`, `relevantText` for text-only queries; exact: always `relevant`; "
                   "labels: library items sharing a label (default: %(default)s)")  # fmt: skip
    p.add_argument("--k", type=int, default=10, help="cut-off K of mAP@K, P@K, R@K, nDCG@K (default: %(default)s)")
    p.add_argument("--depth", type=int, default=100,
                   help="hits asked per query (≤ 200); mAP@all counts relevant items beyond it as missed "
                   "(default: %(default)s)")  # fmt: skip
    p.add_argument("--step", type=float, default=0.25, help="weight simplex step (default: %(default)s)")
    p.add_argument("--tags-weight", type=float, default=0.5,
                   help="weight of sparse `tags` when on, beside dense weights summing to 1 (default: %(default)s)")  # fmt: skip
    p.add_argument("--no-hog", dest="hog", action="store_false", help="skip the weight-free HOG baseline")
    p.add_argument("--max-queries", type=int, default=0, help="only the first N queries (0 = all)")
    p.add_argument("--seed", type=int, default=0, help="torch seed for PRETRAINED=random (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="torch/BLAS threads (default: %(default)s)")
    p.add_argument("--full", action="store_true", help="print every configuration, not a summary")
    p.add_argument("--write-defaults", type=Path,
                   help="write the recommended defaults as a table (app/search/defaults.json's shape) citing this run")  # fmt: skip
    p.add_argument("--out", type=Path, help="JSON results (default: bench/results/eval_<set>.json)")
    # A str, not a Path: Path("") is "." and would write the plots into the working directory.
    p.add_argument("--plots", help="folder for PNG plots (default: beside --out); '' to skip")
    g = p.add_argument_group("settings (default: environment / .env)")
    g.add_argument("--model", help="MODEL_NAME")
    g.add_argument("--pretrained", help="PRETRAINED (tag, checkpoint, or random)")
    g.add_argument("--text-model", help="TEXT_MODEL (clip, or a sentence-transformers model)")
    g.add_argument("--model-configs", type=Path, help="MODEL_CONFIGS")
    g.add_argument("--device", help="DEVICE")
    g.add_argument("--qdrant-path", type=Path, help="QDRANT_PATH")
    g.add_argument("--qdrant-url", help="QDRANT_URL")
    g.add_argument("--collection", help="COLLECTION")
    args = p.parse_args(argv)
    if not 1 <= args.depth <= 200:
        p.error(f"`--depth` must be between 1 and 200 but is {args.depth}")
    if not 1 <= args.k <= args.depth:
        p.error(f"`--k` must be between 1 and --depth ({args.depth}) but is {args.k}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    limit_threads(args.threads)
    report = evaluate(args)
    out = args.out or RESULTS_DIR / f"eval_{args.set.resolve().name}.json"
    write_json(out, report)
    plots: list[Path] = []
    if args.plots != "":
        plots_dir = Path(args.plots) if args.plots else out.parent
        plots_dir.mkdir(parents=True, exist_ok=True)
        plots = plot(report, plots_dir, out.stem)
    k = report["k"]
    random_note = " (random CLIP weights: image/edge figures are chance level)" if report["random_clip_weights"] else ""
    print(
        f"\n{report['queries']} queries, {report['collection']['points']} library items, "
        f"model {report['model']['model']}/{report['model']['pretrained']}{random_note}, "
        f"text view {report['model']['text_model']}, relevance {report['relevance']}, K={k}\n"
    )
    print(format_table(summary_rows(report, args.full)))
    recommended = recommend(report)
    report["recommended_defaults"] = recommended
    write_json(out, report)
    print(f"\nrecommended defaults (best mAP@{k} of the grid per query kind; views without signal: "
          f"{sorted(report['defaults']['without_signal']) or 'none'}):")  # fmt: skip
    for mode, r in recommended.items():
        weights = " ".join(f"{v}={w:g}" for v, w in r["weights"].items() if w > 0)
        print(f"  {mode}: {weights}, rerank={str(r['rerank']).lower()}  ({r['config']}: {r[f'mAP@{k}']:.3f}; "
              f"defaults now {r[f'defaults mAP@{k}']:.3f})")  # fmt: skip
    if args.write_defaults:
        write_json(args.write_defaults, defaults_table(report, recommended, out))
        print(f"wrote {args.write_defaults}")
    print(f"\nwrote {out}" + "".join(f"\nwrote {p}" for p in plots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
