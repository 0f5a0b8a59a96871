"""Which weight-free (or linearly learned) shape descriptor finds the picture a hard sketch shows?

The set comes from scripts/hard_sketches.py (public-domain clip art and photos, sketches
drawn badly stroke by stroke; built at run time into --cache, never committed). Every
library picture goes through the service's edge map and every sketch through its sketch
normalisation (app/embedding/edges.py), exactly as ingest and search do; the variants
below only describe those 224-px line drawings differently.

Protocol: each variant is scored on the `tune` split (a sketch ranks that split's library
by cosine; one relevant picture, so AP@10 is 1/rank within the top 10); learned
projections are fitted on `tune` only. The best variant on `tune` is chosen, and then every
variant's `held-out` figures are reported beside it — the held-out split decides nothing,
it only tells whether the choice holds. ms/query is the time to describe one normalised
sketch (the ranking itself is one matrix product for every variant).

Prints a table and writes JSON (bench/results/eval_shape.json by default).

examples:
  python scripts/eval_shape.py                  # the 600-source set, all variants
  python scripts/eval_shape.py --count 200 --variants shape-576,hog-1764
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench_common import RESULTS_DIR, format_table, limit_threads, write_json

log = logging.getLogger("eval_shape")

K = 10
Describe = Callable[[np.ndarray], np.ndarray]  # a 224-px grey drawing (uint8, dark lines) → vector


# --- the set, normalised once ---------------------------------------------------------------


@dataclass
class Split:
    library_ids: list[str]
    library: np.ndarray  # (n, 224, 224) uint8 normalised drawings of the pictures
    queries: np.ndarray  # (m, 224, 224) uint8 normalised sketches
    relevant: list[str]  # per query: the library id it shows
    clean: np.ndarray  # (c, 224, 224) uint8: the clip art's undistorted line art (an easy check)
    clean_relevant: list[str]


def load_split(folder: Path, split: str) -> Split:
    """The split's drawings, normalised by the service's own code (cached beside the set)."""
    cached = folder / f"drawings-{split}.npz"
    index = json.loads((folder / "index.json").read_text())["splits"][split]
    if not cached.is_file():
        from PIL import Image

        from app.embedding.edges import edge_map, normalize_sketch

        def grey(img: Image.Image) -> np.ndarray:
            return np.asarray(img.convert("L"), dtype=np.uint8)

        lib = [grey(edge_map(Image.open(folder / x["path"]).convert("RGB"))) for x in index["library"]]
        qs = [grey(normalize_sketch(Image.open(folder / q["sketch"]).convert("RGB"))) for q in index["queries"]]
        clean = [grey(normalize_sketch(Image.open(folder / q["sketch"]).convert("RGB"))) for q in index["clean"]]
        np.savez_compressed(cached, library=np.stack(lib), queries=np.stack(qs), clean=np.stack(clean))
    data = np.load(cached)
    return Split(
        [x["id"] for x in index["library"]],
        data["library"],
        data["queries"],
        [q["relevant"] for q in index["queries"]],
        data["clean"],
        [q["relevant"] for q in index["clean"]],
    )


# --- descriptor building blocks ---------------------------------------------------------------


def _ink(drawing: np.ndarray, size: int, blur: float) -> np.ndarray:
    ink = 1.0 - cv2.resize(drawing.astype(np.float32) / 255.0, (size, size), interpolation=cv2.INTER_AREA)
    if blur > 0:
        ink = cv2.GaussianBlur(ink, (0, 0), blur)
    return np.asarray(ink, dtype=np.float32)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-12 else np.full_like(v, 1.0 / np.sqrt(max(1, v.size)))


def hog_of(
    size: int = 128, cell: int = 16, block: int = 2, orientations: int = 9, blur: float = 2.0, norm: str = "L2-Hys"
) -> Describe:
    from skimage.feature import hog

    def describe(drawing: np.ndarray) -> np.ndarray:
        ink = _ink(drawing, size, blur)
        f = hog(
            ink,
            orientations=orientations,
            pixels_per_cell=(cell, cell),
            cells_per_block=(block, block),
            block_norm=norm,
            feature_vector=True,
        )
        # A blank drawing gets a uniform vector, as app/embedding/shape.py gives it.
        return _unit(np.ones_like(f) if float(ink.max()) < 0.01 else f)

    return describe


def power(inner: Describe, alpha: float = 0.5) -> Describe:
    """Signed power normalisation (Hellinger for 0.5): damps the few dominant bins."""
    return lambda d: _unit(np.sign(v := inner(d)) * np.abs(v) ** alpha)


def concat(*parts: tuple[Describe, float]) -> Describe:
    """A pyramid: unit descriptors side by side, each with a weight."""
    return lambda d: _unit(np.concatenate([w * f(d) for f, w in parts]))


def chamfer(size: int = 64, tau: float = 3.0, grid: int = 24) -> Describe:
    """Distance-transform features: exp(-distance to the nearest line / tau), pooled."""

    def describe(drawing: np.ndarray) -> np.ndarray:
        small = cv2.resize(drawing, (size, size), interpolation=cv2.INTER_AREA)
        dist = cv2.distanceTransform((small > 160).astype(np.uint8), cv2.DIST_L2, 3)
        near = np.exp(-dist / tau)
        pooled = cv2.resize(near, (grid, grid), interpolation=cv2.INTER_AREA)
        return _unit(pooled.ravel() - pooled.mean())

    return describe


def oriented_chamfer(size: int = 96, bins: int = 6, blur: float = 4.0, grid: int = 8) -> Describe:
    """Lines split by orientation into `bins` channels, each blurred and pooled to a grid:
    where lines of each direction are, tolerant to a stroke drawn a little off."""

    def describe(drawing: np.ndarray) -> np.ndarray:
        ink = _ink(drawing, size, 1.0)
        gx = cv2.Sobel(ink, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(ink, cv2.CV_32F, 0, 1, ksize=3)
        mag = np.hypot(gx, gy)
        ang = (np.arctan2(gy, gx) % np.pi) / np.pi * bins
        lo = np.floor(ang).astype(int) % bins
        frac = ang - np.floor(ang)
        chans = []
        for b in range(bins):
            w = mag * ((lo == b) * (1 - frac) + (((lo + 1) % bins) == b) * frac)
            w = cv2.GaussianBlur(w, (0, 0), blur)
            chans.append(cv2.resize(w, (grid, grid), interpolation=cv2.INTER_AREA).ravel())
        return _unit(np.sqrt(np.concatenate(chans)))

    return describe


# --- learned linear projections (fitted on the tune split only) ------------------------------


@dataclass
class Projection:
    mean: np.ndarray
    matrix: np.ndarray  # (in, out)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        return _unit((v - self.mean) @ self.matrix)


def fit_pca_whitening(rows: np.ndarray, dim: int, alpha: float = 0.5, eps: float = 1e-6) -> Projection:
    """PCA to `dim` components, each divided by its standard deviation ** (2 * alpha)
    (alpha 0.5: full whitening; smaller: partial, which keeps the strong components)."""
    mean = rows.mean(axis=0)
    _, s, vt = np.linalg.svd(rows - mean, full_matrices=False)
    var = (s**2) / max(1, len(rows) - 1)
    dim = min(dim, vt.shape[0])
    scale = 1.0 / np.power(var[:dim] + eps, alpha)
    return Projection(mean.astype(np.float32), (vt[:dim].T * scale).astype(np.float32))


@dataclass
class Variant:
    name: str
    describe: Describe
    fit: Callable[[np.ndarray], Projection] | None = None  # rows of tune descriptors → projection
    note: str = ""


def variants() -> list[Variant]:
    from app.embedding.shape import SHAPE_PARAMS
    from app.search.shape import HOG_PARAMS

    def params(p: Any) -> Describe:
        return hog_of(p.size, p.cell, p.block, p.orientations, p.blur)

    out = [
        Variant("shape-576", params(SHAPE_PARAMS), note="the stored view until now (hog-5x5-v1)"),
        Variant("hog-1764", params(HOG_PARAMS), note="the evaluation baseline: 8x8 cells of 16 px, blur 2"),
        Variant("hog-1764-blur3", hog_of(blur=3.0)),
        Variant("hog-1764-blur4", hog_of(blur=4.0)),
        Variant("hog-576-blur4", hog_of(120, 24, 2, 9, 4.0)),
        Variant("hog-6x6-blur3", hog_of(96, 16, 2, 9, 3.0), note="6x6 cells of 16 px at 96 px (900 d)"),
        Variant("hog-1176-o6-blur3", hog_of(orientations=6, blur=3.0)),
        Variant("hog-2352-o12-blur3", hog_of(orientations=12, blur=3.0)),
        Variant("hog-b3-blur3", hog_of(block=3, blur=3.0), note="3x3-cell blocks (2,916 d)"),
        Variant("hog-1764-L1sqrt-blur3", hog_of(blur=3.0, norm="L1-sqrt")),
        Variant("hog-1764-blur3-sqrt", power(hog_of(blur=3.0)), note="signed square root (Hellinger)"),
        Variant(
            "pyramid-576+1764-blur3",
            concat((hog_of(120, 24, 2, 9, 3.0), 1.0), (hog_of(blur=3.0), 1.0)),
            note="5x5 and 8x8 cells side by side (2,340 d)",
        ),
        Variant("chamfer-24", chamfer(), note="exp(-distance transform / 3) pooled to 24x24"),
        Variant("ochamfer-6x8", oriented_chamfer(), note="6 orientation channels, blur 4, 8x8 (384 d)"),
        Variant("ochamfer-9x8", oriented_chamfer(bins=9, grid=8), note="9 orientation channels, 8x8 (576 d)"),
    ]
    inputs = {
        "pyr-sqrt": (
            power(concat((hog_of(120, 24, 2, 9, 3.0), 1.0), (hog_of(blur=3.0), 1.0))),
            "sqrt 576+1764 pyramid",
        ),
        "hog1764-sqrt": (power(hog_of(blur=3.0)), "sqrt HOG-1764 blur 3"),
        "hog1764": (hog_of(blur=3.0), "HOG-1764 blur 3"),
        "hog2352-o12-sqrt": (power(hog_of(orientations=12, blur=3.0)), "sqrt HOG 12 orientations blur 3"),
        "hog576-sqrt": (power(hog_of(120, 24, 2, 9, 3.0)), "sqrt HOG-576 blur 3"),
    }
    grid = [
        ("pyr-sqrt", 256, 0.5),
        ("pyr-sqrt", 256, 0.25),
        ("hog1764", 576, 0.15),
        ("hog1764-sqrt", 576, 0.0),
        ("hog1764-sqrt", 576, 0.1),
        ("hog1764-sqrt", 576, 0.15),
        ("hog1764-sqrt", 576, 0.25),
        ("hog2352-o12-sqrt", 576, 0.15),
        ("hog576-sqrt", 576, 0.15),
    ]
    for name, dim, alpha in grid:
        fn, what = inputs[name]
        out.append(
            Variant(
                f"pca{dim}-w{alpha}-{name}",
                fn,
                fit=lambda rows, dim=dim, alpha=alpha: fit_pca_whitening(rows, dim, alpha),
                note=f"PCA of the {what} to {dim} d, whitening power {alpha}, fitted on tune",
            )
        )
    return out


def shipped() -> list[Variant]:
    """The `shape` versions the package ships, through the package's own code (a check that
    the shipped projection reproduces the figures of the variant it came from)."""
    from PIL import Image

    from app.embedding.shape import DESCRIPTORS

    def through_app(version: str) -> Describe:
        d = DESCRIPTORS[version]
        return lambda drawing: d.describe(Image.fromarray(drawing).convert("RGB"))

    return [Variant(f"app:{v}", through_app(v), note="as shipped in app/embedding/shape.py") for v in DESCRIPTORS]


# --- scoring -----------------------------------------------------------------------------------


def describe_all(fn: Describe, drawings: np.ndarray) -> tuple[np.ndarray, float]:
    """Rows for every drawing, and the mean ms per drawing."""
    started = time.perf_counter()
    rows = np.stack([fn(d) for d in drawings])
    return rows, (time.perf_counter() - started) * 1000 / max(1, len(drawings))


def score(library: np.ndarray, ids: Sequence[str], queries: np.ndarray, relevant: Sequence[str]) -> dict[str, float]:
    """mAP@10 and MRR (over the whole ranking) of cosine ranking; one relevant item each."""
    from app.search.metrics import average_precision, reciprocal_rank

    sims = queries @ library.T
    order = np.argsort(-sims, axis=1, kind="stable")
    aps, rrs = [], []
    for row, rel in zip(order, relevant, strict=True):
        ranked = [ids[i] for i in row]
        aps.append(average_precision(ranked[:K], [rel], K))
        rrs.append(reciprocal_rank(ranked, [rel]))
    return {f"mAP@{K}": float(np.mean(aps)), "MRR": float(np.mean(rrs))}


def evaluate(variant: Variant, tune: Split, held: Split) -> dict[str, Any]:
    tl, _ = describe_all(variant.describe, tune.library)
    tq, ms = describe_all(variant.describe, tune.queries)
    hl, _ = describe_all(variant.describe, held.library)
    hq, ms_h = describe_all(variant.describe, held.queries)
    fitted = None
    if variant.fit is not None:
        # Pictures and sketches of the tune split: the projection sees both kinds of drawing.
        fitted = variant.fit(np.concatenate([tl, tq]))
        started = time.perf_counter()
        tl, tq, hl, hq = (np.stack([fitted(r) for r in m]) for m in (tl, tq, hl, hq))
        ms += (time.perf_counter() - started) * 1000 / (len(tl) + len(tq) + len(hl) + len(hq))
    out: dict[str, Any] = {"variant": variant.name, "dim": int(tl.shape[1]), "note": variant.note}
    out.update({f"tune {k}": round(v, 4) for k, v in score(tl, tune.library_ids, tq, tune.relevant).items()})
    out.update({f"held-out {k}": round(v, 4) for k, v in score(hl, held.library_ids, hq, held.relevant).items()})
    if fitted is not None:
        hc = np.stack([fitted(r) for r in describe_all(variant.describe, held.clean)[0]])
    else:
        hc = describe_all(variant.describe, held.clean)[0]
    out[f"held-out clean mAP@{K}"] = round(score(hl, held.library_ids, hc, held.clean_relevant)[f"mAP@{K}"], 4)
    out["ms/query"] = round((ms + ms_h) / 2, 2)
    out["_projection"] = fitted
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "clippy-hard-sketches")
    p.add_argument("--count", type=int, default=600, help="clip-art sources (both splits; default %(default)s)")
    p.add_argument("--sketches", type=int, default=2, help="hard sketches per source (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="picks, distortions and the split (default %(default)s)")
    p.add_argument("--source", type=Path, help="openclipart SVG folder (default: Debian's)")
    p.add_argument("--categories", help="comma-separated top-level folders (default: the object categories)")
    p.add_argument("--photos", help="comma-separated scikit-image sample photos (default: the public-domain ones)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="BLAS/OpenCV threads (default %(default)s)")
    p.add_argument("--variants", default="", help="comma-separated names (default: all)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "eval_shape.json")
    p.add_argument(
        "--ship-dim",
        type=int,
        default=576,
        help="choose among variants of this size (default %(default)s: the stored view's, so a backfill rewrites vectors in place)",
    )
    p.add_argument(
        "--save-projection",
        type=Path,
        help="write the chosen variant's fitted projection (.npz, float16) and its provenance (.json)",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    limit_threads(args.threads)
    cv2.setNumThreads(args.threads)

    from hard_sketches import build

    chosen_sources: dict[str, Any] = {}
    if args.source:
        chosen_sources["source"] = args.source
    if args.categories is not None:
        chosen_sources["categories"] = [c for c in args.categories.split(",") if c]
    if args.photos is not None:
        chosen_sources["photos"] = [n for n in args.photos.split(",") if n]
    folder = build(args.cache, args.count, args.sketches, args.seed, workers=args.workers, **chosen_sources)
    tune, held = load_split(folder, "tune"), load_split(folder, "held-out")
    log.info(
        "tune: %d pictures, %d sketches; held-out: %d pictures, %d sketches",
        len(tune.library_ids),
        len(tune.queries),
        len(held.library_ids),
        len(held.queries),
    )
    wanted = {v for v in args.variants.split(",") if v}
    chosen = [v for v in variants() + shipped() if not wanted or v.name in wanted]
    if wanted - {v.name for v in chosen}:
        raise SystemExit(f"`--variants`: unknown {sorted(wanted - {v.name for v in chosen})}")
    rows = []
    for v in chosen:
        rows.append(evaluate(v, tune, held))
        log.info("%s", {k: val for k, val in rows[-1].items() if not k.startswith("_")})
    # Only candidates are chosen from: not the shipped rows (they repeat a candidate), and
    # only the stored view's size.
    candidates = [r for r in rows if not r["variant"].startswith("app:") and r["dim"] == args.ship_dim]
    best = max(candidates, key=lambda r: (r[f"tune mAP@{K}"], r["tune MRR"])) if candidates else None
    projection = best["_projection"] if best else None
    for r in rows:
        r.pop("_projection", None)
        r["chosen"] = "*" if r is best else ""
    cols = ["variant", "dim", f"tune mAP@{K}", "tune MRR", f"held-out mAP@{K}", "held-out MRR"]
    cols += [f"held-out clean mAP@{K}", "ms/query", "chosen"]
    print(format_table(rows, cols))  # noqa: T201 - the report
    write_json(
        args.out,
        {
            "set": json.loads((folder / "index.json").read_text()) | {"splits": None, "folder": str(folder)},
            "protocol": "choose by tune mAP@10 (then MRR); held-out reported, never tuned on",
            "sizes": {
                "tune": {"pictures": len(tune.library_ids), "sketches": len(tune.queries)},
                "held-out": {"pictures": len(held.library_ids), "sketches": len(held.queries)},
            },
            "rows": rows,
            "chosen": best["variant"] if best else None,
        },
    )
    if args.save_projection and projection is not None and best is not None:
        save_projection(args.save_projection, projection, best, folder, argv)
    return 0


def save_projection(path: Path, projection: Projection, row: dict[str, Any], folder: Path, argv: Any) -> None:
    """The fitted projection as float16 (half the bytes; its rounding moves no figure in the
    table's precision) and a provenance record beside it."""
    import hashlib

    np.savez_compressed(path, mean=projection.mean.astype(np.float16), matrix=projection.matrix.astype(np.float16))
    meta = json.loads((folder / "index.json").read_text())
    provenance = {
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "made_by": "scripts/eval_shape.py " + " ".join(sys.argv[1:] if argv is None else list(argv)),
        "variant": row["variant"],
        "what": row["note"],
        "fitted_on": "the tune split only: its library pictures' edge maps and its hard sketches, normalised as the service does",
        "set": {k: meta[k] for k in ("version", "count", "sketches_per_source", "seed", "size", "sources")},
        "licence": "the data are public domain (openclipart) and public domain / CC0 (scikit-image samples)",
        "figures": {k: v for k, v in row.items() if "mAP" in k or "MRR" in k or k == "ms/query"},
    }
    path.with_suffix(".json").write_text(json.dumps(provenance, indent=1) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
