"""Build an offline evaluation set for sketch→, text→ and image→image search.

From public-domain clip art (Debian's ``openclipart-svg``) it makes, for every picked
SVG:

* a *library image*: the SVG rendered with its fills and colours, on white;
* a *sketch query*: the same SVG as line art, the way a person draws it — every shape
  unfilled, outlined in black with one stroke width, no gradients, pictures or text. It
  is not the edge map of the library image: fills and shading leave no line, and only
  the drawn outlines remain. ``--jitter`` also rotates, shears, shifts and rescales each
  sketch slightly and varies its line width, so that it is not a pixel copy of the
  picture's outline;
* a *text query*: the clip art's title ("greedy caterpillar");
* an *image query*: the library picture as another copy of it would look — recoloured
  (hue turned, saturation and brightness changed), slightly rotated, cropped and rescaled,
  softened, on a tinted paper — so that query-by-example is measured on something that
  is not the stored pixels.

Output (paths in the JSON files are relative to OUT)::

    OUT/library/<category>/…/<name>.png   filled renders: the library to search
    OUT/sketches/<category>/…/<name>.png  line-art sketches: the sketch queries
    OUT/images/<category>/…/<name>.png    altered copies: the image queries
    OUT/manifest.jsonl   one library item per line: path, tags, title, category, source,
                         license, origin, creator, width, height
    OUT/queries.jsonl    one query per line: {"id", "sketch", "text", "image", "relevant",
                         "relevantText", "labels", "relevantLabels"}
    OUT/skipped.jsonl    every SVG tried and not used: svg (under --source), reason
    OUT/README.md        provenance, licence and the command that made the set

``relevant`` holds the library image of the same clip art (exact relevance);
``relevantText`` every library image with the same title (a text query cannot tell them
apart); ``relevantLabels`` the query's category (loose relevance: any library item whose
``category`` is listed counts).

The same arguments always pick and render the same items, whatever ``--workers`` is.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import os
import random
import shutil
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from tqdm import tqdm

from clipart import (
    DEFAULT_SOURCE,
    OBJECT_CATEGORIES,
    SOURCE_NAME,
    ClipArtError,
    RenderJob,
    RenderResult,
    clip_vocabulary,
    list_svgs,
    render_job,
)

log = logging.getLogger("make_eval_set")

OWNED = (
    "library",
    "sketches",
    "images",
    "manifest.jsonl",
    "queries.jsonl",
    "skipped.jsonl",
    "README.md",
)


@dataclass
class EvalSummary:
    """What a build wrote and skipped."""

    items: int = 0
    tried: int = 0
    seconds: float = 0.0
    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def report(self) -> str:
        """A few lines for the terminal: counts, then the skip reasons with examples."""
        head = (
            f"rendered {self.items} items from {self.tried} SVGs tried in "
            f"{self.seconds:.0f} s; skipped {sum(self.skipped.values())}"
        )
        lines = [head]
        for reason, n in sorted(self.skipped.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {n:5d}  {reason}  (e.g. {', '.join(self.examples[reason])})")
        return "\n".join(lines)


def jitter_seed(seed: int, rel: str) -> int:
    """A per-item seed that depends on the item, not on its position or worker."""
    digest = hashlib.sha256(f"{seed}:{rel}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def altered_copy(png: bytes, seed: int) -> bytes:
    """The image query of one item: its picture recoloured, turned, cropped and softened.

    Seeded per item, so a set rebuilds byte for byte. The changes are the ones two copies
    of one picture found in the wild differ by, kept small enough that a person still sees
    the same picture."""
    rng = random.Random(seed)
    with Image.open(io.BytesIO(png)) as im:
        rgb = im.convert("RGB")
    hsv = np.asarray(rgb.convert("HSV"), dtype=np.int16).copy()
    hsv[..., 0] = (hsv[..., 0] + rng.randint(20, 235)) % 256  # another colour scheme
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.6, 1.2), 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(0.8, 1.0), 0, 255)
    out = Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")
    w, h = out.size
    paper = tuple(rng.randint(225, 255) for _ in range(3))
    out = out.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BICUBIC, fillcolor=paper)
    # Crop up to 8 % off each side, then back to the original size.
    box = (
        int(w * rng.uniform(0, 0.08)),
        int(h * rng.uniform(0, 0.08)),
        int(w * (1 - rng.uniform(0, 0.08))),
        int(h * (1 - rng.uniform(0, 0.08))),
    )
    out = out.crop(box).resize((w, h), Image.Resampling.BICUBIC)
    out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    # White became paper: tint what was the white background.
    arr = np.asarray(out, dtype=np.float32)
    light = (arr.min(axis=2, keepdims=True) > 240).astype(np.float32)
    arr = arr * (1 - light) + np.asarray(paper, dtype=np.float32) * light
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8), "RGB").save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _prepare(out: Path, force: bool) -> None:
    existing = [out / name for name in OWNED if (out / name).exists()]
    if existing and not force:
        raise SystemExit(
            f"`--out` {str(out)!r} already holds an evaluation set "
            f"({', '.join(p.name for p in existing)}); add --force to rebuild it"
        )
    for path in existing:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def build(
    out: Path,
    count: int = 1000,
    seed: int = 0,
    size: int = 256,
    workers: int = 2,
    jitter: bool = False,
    source: Path = DEFAULT_SOURCE,
    categories: Sequence[str] | None = OBJECT_CATEGORIES,
    max_svg_bytes: int = 600_000,
    timeout_s: int = 30,
    force: bool = False,
    progress: bool = True,
    known_words: bool = False,
) -> EvalSummary:
    """Render ``count`` clip-art items (library image + sketch + title) into ``out``."""
    if count < 1:
        raise SystemExit(f"`--count` must be at least 1 but is {count}")
    if size < 32:
        raise SystemExit(f"`--size` must be at least 32 pixels but is {size}")
    if workers < 1:
        raise SystemExit(f"`--workers` must be at least 1 but is {workers}")
    started = time.monotonic()
    files = list_svgs(source, categories)
    if not files:
        raise SystemExit(f"no SVGs under `--source` {str(source)!r} in {categories}")
    # Sorted list + seeded shuffle: the same items on every machine and every run.
    random.Random(seed).shuffle(files)
    jobs = [
        RenderJob(
            index=i,
            svg=svg,
            source=source,
            size=size,
            sketch=True,
            jitter_seed=jitter_seed(seed, svg.relative_to(source).as_posix()) if jitter else None,
            max_bytes=max_svg_bytes,
            timeout_s=timeout_s,
        )
        for i, svg in enumerate(files)
    ]
    _prepare(out, force)

    manifest: list[dict[str, object]] = []
    queries: list[dict[str, object]] = []
    skipped: list[dict[str, str]] = []
    seen_svg: set[str] = set()
    seen_png: set[str] = set()
    vocabulary = clip_vocabulary() if known_words else None
    tried = 0

    def accept(result: RenderResult) -> str | None:
        """Write one rendered item, or return a skip reason if it is a duplicate."""
        art = result.clipart
        assert art is not None and result.filled_png and result.sketch_png
        png_hash = hashlib.sha256(result.filled_png).hexdigest()
        if result.svg_sha256 in seen_svg:
            return "duplicate SVG"
        if png_hash in seen_png:
            return "duplicate picture"
        if vocabulary is not None and not set(art.title.split()) <= vocabulary:
            return "unknown title words"
        seen_svg.add(result.svg_sha256)
        seen_png.add(png_hash)
        name = Path(result.rel).with_suffix(".png").as_posix()
        library_rel, sketch_rel, image_rel = f"library/{name}", f"sketches/{name}", f"images/{name}"
        copy = altered_copy(result.filled_png, jitter_seed(seed + 1, result.rel))
        for rel, data in (
            (library_rel, result.filled_png),
            (sketch_rel, result.sketch_png),
            (image_rel, copy),
        ):
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(data)
        width, height = result.size or (0, 0)
        manifest.append(
            {
                "path": library_rel,
                "tags": art.tags,
                "title": art.title,
                "category": art.category,
                "subcategory": art.subcategory,
                "source": SOURCE_NAME,
                "license": art.license,
                "origin": str(art.svg),
                "creator": art.creator,
                "width": width,
                "height": height,
            }
        )
        queries.append(
            {
                "id": f"q{len(queries) + 1:05d}",
                "sketch": sketch_rel,
                "text": art.title,
                "image": image_rel,
                "relevant": [library_rel],
                "labels": [art.category],
                "relevantLabels": [art.category],
            }
        )
        return None

    bar = tqdm(total=count, desc="rendering", unit="item", disable=not progress)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # Render the shuffled list in batches a little larger than what is still missing,
        # and take results in list order: the first `count` usable SVGs are chosen
        # whichever worker is fastest, without rendering the whole collection.
        start = 0
        while len(manifest) < count and start < len(jobs):
            batch = jobs[start : start + int((count - len(manifest)) * 1.25) + 4 * workers]
            start += len(batch)
            for result in pool.map(render_job, batch, chunksize=4):
                if len(manifest) >= count:
                    break  # the rest of the batch is cancelled when the map is dropped
                tried += 1
                reason = result.reason or accept(result)
                if reason:
                    skipped.append({"svg": result.rel, "reason": reason, "detail": result.detail})
                    continue
                bar.update(1)
    bar.close()

    _add_text_relevance(manifest, queries)
    _write_jsonl(out / "manifest.jsonl", manifest)
    _write_jsonl(out / "queries.jsonl", queries)
    _write_jsonl(out / "skipped.jsonl", skipped)

    reasons = Counter(s["reason"] for s in skipped)
    examples: defaultdict[str, list[str]] = defaultdict(list)
    for s in skipped:
        if len(examples[s["reason"]]) < 3:
            examples[s["reason"]].append(s["svg"])
    summary = EvalSummary(
        items=len(manifest),
        tried=tried,
        seconds=time.monotonic() - started,
        skipped=dict(reasons),
        examples=dict(examples),
    )
    per_category = Counter(str(item["category"]) for item in manifest)
    command = _command(out, count, seed, size, jitter, source, categories, known_words)
    _write_readme(out, summary, per_category, command, size, jitter, source)
    if len(manifest) < count:
        log.warning(
            "only %d usable SVGs for `--count` %d; add categories or lower --count",
            len(manifest),
            count,
        )
    return summary


def _add_text_relevance(manifest: list[dict[str, object]], queries: list[dict[str, object]]) -> None:
    """Give each query every library item with the same title as text-relevant."""
    by_title: defaultdict[str, list[str]] = defaultdict(list)
    for item in manifest:
        by_title[str(item["title"])].append(str(item["path"]))
    for query in queries:
        query["relevantText"] = by_title[str(query["text"])]


def _write_jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _command(
    out: Path,
    count: int,
    seed: int,
    size: int,
    jitter: bool,
    source: Path,
    categories: Sequence[str] | None,
    known_words: bool,
) -> str:
    """The command line that rebuilds this set, for its README."""
    parts = [
        f"python scripts/make_eval_set.py --out {out} --count {count} --seed {seed}",
        f"--size {size}",
    ]
    if jitter:
        parts.append("--jitter")
    if known_words:
        parts.append("--known-words")
    if source != DEFAULT_SOURCE:
        parts.append(f"--source {source}")
    if categories is None:
        parts.append("--categories all")
    elif tuple(categories) != OBJECT_CATEGORIES:
        parts.append(f"--categories {','.join(categories)}")
    return " ".join(parts)


def _write_readme(
    out: Path,
    summary: EvalSummary,
    per_category: Counter[str],
    command: str,
    size: int,
    jitter: bool,
    source: Path,
) -> None:
    """Provenance and licence travel with the data set, not only with the repo."""
    jittered = ", lightly jittered (rotation, shear, shift, scale, line width)" if jitter else ""
    rows = "\n".join(f"| {c} | {n} |" for c, n in sorted(per_category.items()))
    text = f"""# Clippy evaluation set: sketch, text and image → image

{summary.items} clip-art items, each a library image (filled render), a line-art sketch
query, a text query (its title) and an image query (the picture recoloured, turned,
cropped and softened). Made by `scripts/make_eval_set.py` in the Clippy
repository:

    {command}

## Provenance and licence

The pictures are rendered from the SVGs of the Open Clip Art Library as packaged by
Debian (`openclipart-svg`, files under `{source}`). The package's copyright file
(`/usr/share/doc/openclipart-svg/copyright`) dedicates the collection to the public
domain (Creative Commons Public Domain Dedication); SVGs whose own metadata names
another licence were skipped. Every library item lists its `origin` SVG, its `creator`
where the metadata names one, and its `license`. The renders, sketches and metadata
here are public domain too.

## Files

- `library/…png`: the SVG rendered with cairosvg on white, zoomed onto the drawing,
  longest side {size} px.
- `sketches/…png`: the same SVG as black line art (fills removed, every shape stroked
  in black, one line width, gradients, pictures and text dropped; invisible helpers and
  faint unstroked highlights dropped){jittered}.
- `manifest.jsonl`: the library, one item per line (`path`, `tags`, `title`, `category`,
  `subcategory`, `source`, `license`, `origin`, `creator`, `width`, `height`).
- `queries.jsonl`: one query per item: `sketch`, `text`, `relevant` (the same clip art),
  `relevantText` (every item with the same title), `labels` and `relevantLabels` (the
  category: any library item of that category is loosely relevant).
- `skipped.jsonl`: the SVGs tried and not used, with the reason.

## Items per category

| category | items |
|---|---|
{rows}

## Skipped

{summary.report()}
"""
    (out / "README.md").write_text(text, encoding="utf-8")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make_eval_set.py",
        description=__doc__,
        epilog=(
            "Needs the clip art and cairo: "
            "`apt-get install openclipart-svg libcairo2`.\n"
            "\nexamples:\n"
            "  python scripts/make_eval_set.py --out data/eval --jitter --workers 4\n"
            "  python scripts/make_eval_set.py --out /tmp/tiny --count 50 "
            "--categories animals"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder to write the evaluation set into",
    )
    parser.add_argument(
        "--count",
        type=int,
        default=1000,
        help="number of items (library images, each with a sketch and a text query) (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed for which SVGs are picked and for the jitter (default: %(default)s)",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=256,
        help="longest side of every image in pixels (default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="processes rendering in parallel (default: %(default)s)",
    )
    parser.add_argument(
        "--jitter",
        action="store_true",
        help="perturb each sketch slightly (rotation up to 5 degrees, shear, "
        "shift, scale, line width) so it is not a pixel copy of the outline",
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_SOURCE,
        help="folder of SVGs in <category>/... folders (default: %(default)s, from Debian's openclipart-svg)",
    )
    parser.add_argument(
        "--categories",
        default=",".join(OBJECT_CATEGORIES),
        help="comma-separated top-level folders to draw from, or 'all' "
        "(default: the object categories, leaving out icon sets, flags, "
        "shapes, logos and patterns)",
    )
    parser.add_argument(
        "--max-svg-kb",
        type=int,
        default=600,
        help="skip SVGs larger than this many kilobytes; they are slow, detailed illustrations (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=30,
        help="seconds one SVG may take to render before it is skipped (default: %(default)s)",
    )
    parser.add_argument(
        "--known-words",
        action="store_true",
        help="skip clip art whose title has words OpenCLIP's tokenizer does not know "
        "(mostly misspelt or not English), for cleaner text queries",
    )
    parser.add_argument("--force", action="store_true", help="replace an evaluation set already in OUT")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    categories = (
        None if args.categories.strip() == "all" else [c.strip() for c in args.categories.split(",") if c.strip()]
    )
    try:
        summary = build(
            out=args.out,
            count=args.count,
            seed=args.seed,
            size=args.size,
            workers=args.workers,
            jitter=args.jitter,
            source=args.source,
            categories=categories,
            max_svg_bytes=args.max_svg_kb * 1000,
            timeout_s=args.timeout,
            force=args.force,
            known_words=args.known_words,
        )
    except ClipArtError as e:
        log.error("%s", e)
        return 2
    log.info("%s\nwrote %s", summary.report(), args.out)
    return 0 if summary.items else 1


if __name__ == "__main__":
    sys.exit(main())
