"""What one sprite atlas costs the service, and what it saves the browser (POST /atlas).

For each number of hits and cell size: the time to read the cached thumbnails, pack them
(app/library/atlas.py, as POST /atlas does) and write the JPEG page(s), against the bytes
and requests the grid would otherwise spend on one /thumb/ per hit. The store lookup that
POST /atlas makes first (one retrieve per 256 ids) is not included. Images are cycled from
--images-dir to reach each count; no model is loaded.

examples:
  python scripts/bench_atlas.py
  python scripts/bench_atlas.py --images-dir assets/sample --counts 24,100,500 --cells 128,256
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from app.ingest.sources import IMAGE_SUFFIXES
from app.library.atlas import API_PADDING, MAX_SIDE, AtlasFiles, build_atlas
from app.storage.thumbs import ThumbnailCache
from bench_common import RESULTS_DIR, format_table, latency_summary, limit_threads, write_json


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images-dir", type=Path, default=Path("assets/sample"), help="pictures to make thumbnails of")
    p.add_argument("--counts", default="24,100,500", help="hits per atlas, comma-separated")
    p.add_argument("--cells", default="128,256", help="cell sides in pixels (multiples of 16), comma-separated")
    p.add_argument("--thumb-size", type=int, default=256, help="THUMB_SIZE of the thumbnail cache")
    p.add_argument("--repeats", type=int, default=5, help="timed builds per row")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (the service packs on one)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "atlas.json", help="JSON results")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limit_threads(args.threads)
    counts = [int(x) for x in args.counts.split(",") if x]
    cells = [int(x) for x in args.cells.split(",") if x]
    sources = sorted(p for p in args.images_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not sources:
        print(f"no images under {args.images_dir}", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = ThumbnailCache(Path(tmp) / "thumbs", args.thumb_size)
        thumbs = [
            cache.get(f"{i:08x}-0000-0000-0000-000000000000", src, 50_000_000)
            for i, src in enumerate(tqdm(sources, desc="thumbnails", unit="img"))
        ]
        files = AtlasFiles(Path(tmp) / "atlas", ttl_s=3600)
        for n in counts:
            picked = [thumbs[i % len(thumbs)] for i in range(n)]
            for cell in cells:

                def build(picked: list[Path] = picked, cell: int = cell) -> tuple[int, int]:
                    pictures = []
                    for k, path in enumerate(picked):
                        with Image.open(path) as img:
                            img.load()
                            pictures.append((str(k), img.copy()))
                    atlas = build_atlas(pictures, cell=cell, max_side=MAX_SIDE, padding=API_PADDING)
                    token, names = files.save(atlas, owner=None)
                    size = sum((files.root / token / name).stat().st_size for name in names)
                    return size, len(names)

                seconds = []
                for _ in tqdm(range(args.repeats), desc=f"{n} hits, cell {cell}", unit="build", leave=False):
                    start = time.perf_counter()
                    atlas_bytes, pages = build()
                    seconds.append(time.perf_counter() - start)
                summary = latency_summary(seconds)
                rows.append(
                    {
                        "hits": n,
                        "cell": cell,
                        "pages": pages,
                        "build_p50_ms": summary["p50_ms"],
                        "build_p95_ms": summary["p95_ms"],
                        "atlas_kb": round(atlas_bytes / 1024, 1),
                        "thumbs_kb": round(sum(p.stat().st_size for p in picked) / 1024, 1),
                        "requests": 1 + pages,  # POST /atlas, then each page
                        "thumb_requests": n,
                    }
                )
    print(format_table(rows))
    out = write_json(args.out, {"images_dir": str(args.images_dir), "thumb_size": args.thumb_size, "rows": rows})
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
