"""Cross-modal RAG evaluation: sub-query coverage@k of the Pareto set vs plain top-k search.

A *compositional* query set is built from the collection's own tags: queries combining 2 or
3 tags that no single image has all of ("frogs, lighthouse and camera"), so no one
reference can satisfy the whole prompt. For each query and each k:

* top-k:  the service's HybridSearcher with the whole prompt (same view weights), first k hits;
* pareto: ComplementarySearcher — the prompt decomposed into sub-queries, each scored,
          the Pareto frontier, then ≤ k references maximising coverage (app/search/pareto.py).

coverage@k = the share of the query's tags that at least one of the k results carries
(app/search/pareto.py `coverage_at_k`); all@k = the share of queries with every tag covered.
The Pareto set may hold fewer than k references (it stops when nothing adds coverage);
`refs` reports how many it used on average.

examples:
  # the demo library with the tiny random CLIP and the packaged MiniLM text view (offline)
  python scripts/eval_complementary.py --images assets/sample --ingest \\
      --qdrant-path /tmp/clippy-rag/qdrant --collection sample \\
      --model clippy-tiny --model-configs tests/fixtures/model_configs --pretrained random \\
      --text-model all-MiniLM-L6-v2
  # an existing collection, as configured in .env
  python scripts/eval_complementary.py --max-queries 500 --k 2,3,4,6
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench_common import RESULTS_DIR, format_table, limit_threads, write_json

log = logging.getLogger("eval_complementary")


def collection_tags(store: Any) -> dict[str, set[str]]:
    """Point id → its (normalised) tags, for the whole collection."""
    out: dict[str, set[str]] = {}
    offset = None
    while True:
        points, offset = store.scroll(limit=1000, offset=offset)
        out.update({p.id: {str(t) for t in p.payload.get("tags") or []} for p in points})
        if offset is None:
            return out


def compositional_queries(
    tags_of: Mapping[str, set[str]],
    *,
    sizes: Sequence[int] = (2, 3),
    max_queries: int = 200,
    max_df: float = 0.25,
    seed: int = 0,
    attempts: int = 100_000,
) -> list[tuple[str, ...]]:
    """Tag combinations (2–3 tags, each on at least one image, on at most `max_df` of them)
    that no single image carries all of; drawn at random with `seed`, without repeats,
    about as many of each size."""
    if not tags_of:
        return []
    df = Counter(t for tags in tags_of.values() for t in tags)
    vocab = sorted(t for t, n in df.items() if n <= max(1, max_df * len(tags_of)))
    rng = random.Random(seed)
    seen: set[frozenset[str]] = set()
    out: list[tuple[str, ...]] = []
    per_size = {s: max_queries // len(sizes) + (i < max_queries % len(sizes)) for i, s in enumerate(sizes)}
    for size, want in per_size.items():
        got = 0
        for _ in range(attempts):
            if got >= want or len(vocab) < size:
                break
            combo = tuple(rng.sample(vocab, size))
            key = frozenset(combo)
            words = [w for t in combo for w in t.split("_")]
            if key in seen or len(set(words)) < len(words):  # "red_hair" + "hair": not two parts
                continue
            seen.add(key)
            if any(key <= tags for tags in tags_of.values()):
                continue
            out.append(combo)
            got += 1
    return out


def prompt_of(tags: Sequence[str]) -> str:
    words = [t.replace("_", " ") for t in tags]
    return ", ".join(words[:-1]) + " and " + words[-1]


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from app.search.complementary import ComplementarySearcher
    from app.search.complementary_models import ComplementaryQuery
    from app.search.hybrid import HybridSearcher, QueryInputs
    from app.search.models import HybridQuery
    from app.search.pareto import coverage_at_k
    from app.storage.schema import CollectionSchema
    from evaluate import _open, ensure_collection

    settings, encoders, store = _open(args)
    root = args.images
    if root is not None:
        ensure_collection(
            encoders,
            store,
            root,
            args.manifest or root / "manifest.jsonl",
            args.ingest,
            settings.DEFAULT_LIBRARY,
            settings.OPTIMIZE_THRESHOLD,
        )
    store.ensure(CollectionSchema(encoders.clip.dim, encoders.text.dim, encoders.space()), writing=False)
    tags_of = collection_tags(store)
    queries = compositional_queries(
        tags_of, sizes=args.sizes, max_queries=args.max_queries, max_df=args.max_df, seed=args.seed
    )
    if not queries:
        raise SystemExit(f"collection {store.collection!r}: no compositional tag queries (too few tags?)")
    ks = sorted(set(args.k))
    w_img, w_txt, w_tags = args.weights
    hybrid = HybridSearcher(encoders, store, settings)
    rag = ComplementarySearcher(encoders, store, settings)
    rows: dict[tuple[str, int], list[tuple[float, int]]] = {}
    per_query: list[dict[str, Any]] = []
    started = time.perf_counter()
    for tags in queries:
        prompt = prompt_of(tags)
        parts = [{i for i, t in tags_of.items() if tag in t} for tag in tags]
        hq = HybridQuery(query_text=prompt, w_img=w_img, w_edge=0, w_txt=w_txt, w_tags=w_tags, limit=max(ks))
        top = [h.id for h in hybrid.search(hq, QueryInputs(text=prompt)).hits]
        entry: dict[str, Any] = {"tags": list(tags), "prompt": prompt, "topk": top}
        for k in ks:
            rows.setdefault(("top-k", k), []).append((coverage_at_k(parts, top, k), min(k, len(top))))
            res = rag.search(ComplementaryQuery(prompt=prompt, limit=k, w_img=w_img, w_txt=w_txt, w_tags=w_tags))
            ids = [r.id for r in res.refs]
            rows.setdefault(("pareto", k), []).append((coverage_at_k(parts, ids, k), len(ids)))
            entry[f"pareto@{k}"] = {"refs": ids, "subQueries": [q.text for q in res.sub_queries]}
        per_query.append(entry)
    elapsed = time.perf_counter() - started
    summary = []
    for k in ks:
        for method in ("top-k", "pareto"):
            got = rows[(method, k)]
            summary.append(
                {
                    "method": method,
                    "k": k,
                    "coverage@k": round(sum(c for c, _ in got) / len(got), 4),
                    "all@k": round(sum(1 for c, _ in got if c == 1.0) / len(got), 4),
                    "refs": round(sum(n for _, n in got) / len(got), 2),
                }
            )
    return {
        "collection": {"name": store.collection, "points": len(tags_of)},
        "model": encoders.space(),
        "weights": {"image": w_img, "text": w_txt, "tags": w_tags},
        "queries": len(queries),
        "sizes": list(args.sizes),
        "seconds": round(elapsed, 1),
        "summary": summary,
        "perQuery": per_query,
    }


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="eval_complementary.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--images", type=Path, help="library folder holding manifest.jsonl (--ingest embeds it)")
    p.add_argument("--manifest", type=Path, help="library manifest (default: IMAGES/manifest.jsonl)")
    p.add_argument("--ingest", action="store_true", help="embed the manifest into the collection if it is not there")
    p.add_argument("--k", type=_ints, default=[2, 3, 4], help="cut-offs, comma-separated (default: 2,3,4)")
    p.add_argument("--sizes", type=_ints, default=[2, 3], help="tags per query (default: 2,3)")
    p.add_argument("--max-queries", type=int, default=200, help="queries to draw (default: %(default)s)")
    p.add_argument("--max-df", type=float, default=0.25,
                   help="leave out tags on more than this share of images (default: %(default)s)")  # fmt: skip
    p.add_argument("--weights", type=lambda s: [float(v) for v in s.split(",")], default=[1.0, 1.0, 1.0],
                   help="view weights image,text,tags for both methods (default: 1,1,1)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="query sampling and PRETRAINED=random seed")
    p.add_argument("--threads", type=int, default=2, help="torch/BLAS threads (default: %(default)s)")
    p.add_argument("--out", type=Path, help="JSON results (default: bench/results/eval_complementary_COLLECTION.json)")
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
    if not args.k or min(args.k) < 1:
        p.error(f"`--k` must list cut-offs >= 1 but is {args.k}")
    if not args.sizes or min(args.sizes) < 2:
        p.error(f"`--sizes` must list sizes >= 2 but is {args.sizes}")
    if len(args.weights) != 3 or min(args.weights) < 0 or sum(args.weights) <= 0:
        p.error(f"`--weights` takes image,text,tags >= 0, not all 0, but is {args.weights}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    limit_threads(args.threads)
    report = evaluate(args)
    out = args.out or RESULTS_DIR / f"eval_complementary_{report['collection']['name']}.json"
    write_json(out, report)
    m = report["model"]
    print(
        f"\n{report['queries']} compositional queries ({'/'.join(map(str, report['sizes']))} tags, none on one image), "
        f"{report['collection']['points']} library items, model {m['model']}/{m['pretrained']}, "
        f"text view {m['text_model']}, weights {report['weights']}, {report['seconds']} s\n"
    )
    print(format_table(report["summary"]))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
