"""Build the small public-domain image library that the demo ingests and serves.

The README's one-command demo needs pictures to search without downloading anything.
This script makes them from two sources that are on the machine already:

* clip art from Debian's ``openclipart-svg`` package (public domain), rendered to PNG on
a
  white background, a few per category, with tags taken from the category folders and
  the clip art's title;
* a handful of public-domain / CC0 photos that ship inside scikit-image.

It writes ``OUT/manifest.jsonl`` (one JSON object per image: path, tags, title, source,
licence, origin), the images under ``OUT/openclipart/<category>/`` and ``OUT/photos/``,
and a few line-art sketches of library items to try the sketch search with
(``--sketch-dir``). The same arguments always give the same files.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from clipart import (
    DEFAULT_SOURCE,
    SOURCE_NAME,
    ClipArtError,
    RenderJob,
    clip_vocabulary,
    content_words,
    list_svgs,
    render_job,
    singular,
    slug,
    split_words,
)

log = logging.getLogger("make_sample_library")

# Object categories that make a varied demo; a sample of the whole package would be
# mostly icons and star shapes (see scripts/clipart.py, OBJECT_CATEGORIES).
SAMPLE_CATEGORIES: tuple[str, ...] = (
    "animals",
    "buildings",
    "electronics",
    "food",
    "office",
    "people",
    "plants",
    "recreation",
    "science",
    "tools",
    "transportation",
    "containers",
)
# Pictograms and signs rather than pictures of things: fine in an evaluation, dull in a
# demo.
EXCLUDED_FOLDERS: tuple[str, ...] = (
    "transportation/aiga-symbols/",
    "transportation/roadsigns/",
    "recreation/games/cards/",
)
# Large SVGs are detailed illustrations that render slowly and compress badly.
MAX_SVG_BYTES = 300_000


@dataclass(frozen=True)
class Photo:
    """A photo bundled with scikit-image, with the licence its docstring states."""

    file: str  # name in skimage/data/
    name: str  # output name without extension
    title: str
    tags: tuple[str, ...]
    license: str
    credit: str


# Licences are quoted from the docstrings of skimage.data.<function>; only photos stated
# to be public domain or CC0 are used. Tags are written by hand: there is no title to
# split.
PHOTOS: tuple[Photo, ...] = (
    Photo(
        "astronaut.png",
        "astronaut",
        "astronaut Eileen Collins",
        ("astronaut", "woman", "portrait", "space"),
        "public-domain",
        "NASA Great Images database (skimage.data.astronaut)",
    ),
    Photo(
        "chelsea.png",
        "cat",
        "Chelsea the cat",
        ("cat", "animal", "pet"),
        "CC0-1.0",
        "Stefan van der Walt (skimage.data.chelsea)",
    ),
    Photo(
        "coffee.png",
        "coffee",
        "coffee cup",
        ("coffee", "cup", "drink", "food"),
        "CC0-1.0",
        "Rachel Michetti, courtesy of Pikolo Espresso Bar (skimage.data.coffee)",
    ),
    Photo(
        "camera.png",
        "cameraman",
        "man with a camera on a tripod",
        ("camera", "photographer", "man", "tripod"),
        "CC0-1.0",
        "Lav Varshney (skimage.data.camera)",
    ),
    Photo(
        "rocket.jpg",
        "rocket",
        "Falcon 9 rocket launch",
        ("rocket", "launch", "space", "transportation"),
        "public-domain",
        "SpaceX (skimage.data.rocket)",
    ),
    Photo(
        "hubble_deep_field.jpg",
        "galaxies",
        "Hubble eXtreme Deep Field",
        ("galaxy", "space", "star", "astronomy"),
        "public-domain",
        "NASA (skimage.data.hubble_deep_field)",
    ),
)


def skimage_data_dir() -> Path:
    """The folder of scikit-image's bundled sample images."""
    import skimage.data

    return Path(skimage.data.__file__).parent


def candidate_queues(source: Path, categories: Sequence[str], seed: int) -> dict[str, list[Path]]:
    """The SVGs of each category in a seeded order, the ones to try first first.

    Each category gets a generator seeded by ``seed`` and its name, so adding a category
    does not reshuffle the others.
    """
    queues: dict[str, list[Path]] = {}
    for category in categories:
        files = [
            p
            for p in list_svgs(source, [category])
            if not any(p.relative_to(source).as_posix().startswith(x) for x in EXCLUDED_FOLDERS)
        ]
        random.Random(f"{seed}:{category}").shuffle(files)
        queues[category] = files
    return queues


def _reset(out: Path, sketch_dir: Path | None, force: bool) -> None:
    """Make ``out`` ready; only files this script writes are ever deleted."""
    owned = [out / "openclipart", out / "photos", out / "manifest.jsonl"]
    if sketch_dir is not None:
        owned.append(sketch_dir)
    existing = [p for p in owned if p.exists()]
    if existing and not force:
        raise SystemExit(
            f"`--out` {str(out)!r} already holds a sample library "
            f"({', '.join(p.name for p in existing)}); add --force to rebuild it"
        )
    for path in existing:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)


@dataclass
class Summary:
    """What a build wrote and what it skipped, for the log line and for tests."""

    images: int = 0
    clipart: int = 0
    photos: int = 0
    sketches: int = 0
    bytes: int = 0
    per_category: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


def build(
    out: Path,
    count: int,
    seed: int,
    size: int,
    source: Path,
    photos: bool = True,
    sketches: int = 6,
    sketch_dir: Path | None = None,
    force: bool = False,
    known_words: bool = True,
) -> Summary:
    """Write the sample library and return what it wrote and skipped."""
    if count < 1:
        raise SystemExit(f"`--count` must be at least 1 but is {count}")
    if size < 32:
        raise SystemExit(f"`--size` must be at least 32 pixels but is {size}")
    categories = [c for c in SAMPLE_CATEGORIES if (source / c).is_dir()]
    if not categories:
        raise SystemExit(
            f"no clip-art categories found under `--source` {str(source)!r}; "
            "install them with `apt-get install openclipart-svg`"
        )
    _reset(out, sketch_dir if sketches else None, force)
    manifest: list[dict[str, object]] = []
    skipped: Counter[str] = Counter()
    per_category: Counter[str] = Counter()
    names: defaultdict[str, int] = defaultdict(int)
    vocabulary = clip_vocabulary() if known_words else None
    seen_titles: set[str] = set()
    seen_svgs: set[str] = set()
    sketch_items: list[tuple[str, bytes]] = []

    def take(category: str, svg: Path, index: int) -> bool:
        """Render one candidate and add it to the library unless it is skipped."""
        result = render_job(
            RenderJob(
                index=index,
                svg=svg,
                source=source,
                size=size,
                sketch=len(sketch_items) < sketches,
                max_bytes=MAX_SVG_BYTES,
                palette=True,
            )
        )
        if result.reason or result.clipart is None or result.filled_png is None:
            skipped[result.reason or "unknown"] += 1
            log.warning("skipped %s: %s %s", result.rel, result.reason, result.detail)
            return False
        art = result.clipart
        title_words = content_words(art.title)
        folder_words = {v for f in art.rel.split("/")[:-1] for w in split_words(f) for v in (w, singular(w))}
        reason = None
        if not set(title_words) - folder_words:
            # "people" in people/ says nothing its folder does not: a dull demo tag.
            reason = "title repeats its folder"
        elif " ".join(title_words) in seen_titles:
            # Several drawings share a title ("magnifying glass"); one each is more
            # varied.
            reason = "duplicate title"
        elif result.svg_sha256 in seen_svgs:
            reason = "duplicate file"
        elif vocabulary is not None and not set(art.title.split()) <= vocabulary:
            reason = "unknown title words"
        if reason:
            skipped[reason] += 1
            log.debug("skipped %s: %s (%r)", result.rel, reason, art.title)
            return False
        seen_titles.add(" ".join(title_words))
        seen_svgs.add(result.svg_sha256)
        base = slug(art.title, 32)
        names[f"{category}/{base}"] += 1
        rel = f"openclipart/{category}/{base}_{names[f'{category}/{base}']:02d}.png"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(result.filled_png)
        width, height = result.size or (0, 0)
        manifest.append(
            {
                "path": rel,
                "tags": art.tags,
                "title": art.title,
                "source": SOURCE_NAME,
                "license": art.license,
                "origin": str(svg),
                "creator": art.creator,
                "category": category,
                "width": width,
                "height": height,
            }
        )
        if result.sketch_png is not None:
            sketch_items.append((Path(rel).stem, result.sketch_png))
        per_category[category] += 1
        progress.update(1)
        return True

    # Round-robin over categories, one *accepted* picture per category per round, so
    # that a category with many unusable files still gets its share and a small one that
    # runs dry leaves its share to the others.
    queues = candidate_queues(source, categories, seed)
    progress = tqdm(total=count, desc="clip art", unit="img")
    tried = 0
    while len(manifest) < count and any(queues.values()):
        for category in categories:
            while queues[category] and len(manifest) < count:
                tried += 1
                if take(category, queues[category].pop(0), tried):
                    break
    progress.close()

    if photos:
        data_dir = skimage_data_dir()
        for photo in tqdm(PHOTOS, desc="photos", unit="img"):
            src = data_dir / photo.file
            if not src.is_file():
                skipped["photo missing"] += 1
                log.warning("skipped photo %s: not in %s", photo.file, data_dir)
                continue
            rel = f"photos/{photo.name}.jpg"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            with Image.open(src) as im:
                image = im.convert("RGB")
            image.thumbnail((size, size), Image.Resampling.LANCZOS)
            image.save(out / rel, format="JPEG", quality=85, optimize=True)
            manifest.append(
                {
                    "path": rel,
                    "tags": list(photo.tags),
                    "title": photo.title,
                    "source": "scikit-image",
                    "license": photo.license,
                    "origin": f"skimage/data/{photo.file}",
                    "creator": photo.credit,
                    "category": "photos",
                    "width": image.width,
                    "height": image.height,
                }
            )

    with (out / "manifest.jsonl").open("w", encoding="utf-8") as f:
        for entry in manifest:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    if sketches and sketch_dir is not None:
        sketch_dir.mkdir(parents=True, exist_ok=True)
        for name, png in sketch_items:
            (sketch_dir / f"{name}.png").write_bytes(png)

    total_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return Summary(
        images=len(manifest),
        clipart=sum(per_category.values()),
        photos=sum(1 for m in manifest if m["source"] != SOURCE_NAME),
        sketches=len(sketch_items) if sketches and sketch_dir is not None else 0,
        bytes=total_bytes,
        per_category=dict(per_category),
        skipped=dict(skipped),
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make_sample_library.py",
        description=__doc__,
        epilog=(
            "Needs the clip art and cairo: "
            "`apt-get install openclipart-svg libcairo2`.\n"
            "\nexample (rebuilds what the repo ships):\n"
            "  python scripts/make_sample_library.py --out assets/sample --count 48 "
            "--seed 0 --force\n"
            "\nThe demo then ingests OUT/manifest.jsonl; licences are in "
            "assets/LICENSES.md."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder to write the library into, e.g. assets/sample",
    )
    parser.add_argument(
        "--count",
        type=int,
        default=48,
        help="number of clip-art images, spread evenly over categories (default: %(default)s; the photos come on top)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed for which clip art is picked (default: %(default)s)",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=384,
        help="longest side of every image in pixels (default: %(default)s)",
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_SOURCE,
        help="folder of SVGs in <category>/... folders (default: %(default)s, from Debian's openclipart-svg)",
    )
    parser.add_argument(
        "--no-photos",
        dest="photos",
        action="store_false",
        help="leave out the scikit-image photos",
    )
    parser.add_argument(
        "--sketches",
        type=int,
        default=6,
        help="how many line-art sketches of library items to write for "
        "trying the sketch search (default: %(default)s; 0: none)",
    )
    parser.add_argument(
        "--sketch-dir",
        type=Path,
        default=None,
        help="where the sketches go (default: OUT/../sketches, kept out of "
        "OUT so that they are not ingested as library images)",
    )
    parser.add_argument(
        "--any-titles",
        dest="known_words",
        action="store_false",
        help="also take clip art whose title has words unknown to OpenCLIP's tokenizer "
        "(by default those are skipped: they are mostly misspelt or not English)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace a library already in OUT (only files this script writes are deleted)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    sketch_dir = args.sketch_dir or args.out.resolve().parent / "sketches"
    try:
        summary = build(
            out=args.out,
            count=args.count,
            seed=args.seed,
            size=args.size,
            source=args.source,
            photos=args.photos,
            sketches=args.sketches,
            sketch_dir=sketch_dir,
            force=args.force,
            known_words=args.known_words,
        )
    except ClipArtError as e:
        log.error("%s", e)
        return 2
    log.info(
        "wrote %d images (%d clip art, %d photos), %d sketches, %.1f MB to %s; skipped %s",
        summary.images,
        summary.clipart,
        summary.photos,
        summary.sketches,
        summary.bytes / 1e6,
        args.out,
        summary.skipped or "none",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
