"""Pack library thumbnails into sprite-atlas pages + a JSON manifest (id → page, x, y, w, h).

Items: the whole collection (or --library), or a list of ids — a result set — given with
--ids (comma-separated) or --ids-file (one id per line, a JSON list of ids, or a saved
search response whose `hits` carry ids). Thumbnails come from the thumbnail cache
(THUMBS_ROOT, made on the way); each fits a square cell of --cell pixels, and a page holds
at most (--max-side // --cell)² of them — more items make more pages.

Writes OUT.png (or OUT-0.png, OUT-1.png, … for several pages) and OUT.json. No model is loaded.

examples:
  python scripts/build_atlas.py --out data/atlas/atlas.png --cell 128 --max-side 4096
  curl -s 'localhost:8000/search?query=cat&limit=100' > hits.json
  python scripts/build_atlas.py --ids-file hits.json --out data/atlas/cats.png --cell 96
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from app.cli_common import settings_from_flags, setup_logging
from app.errors import ClippyError
from app.library.atlas import build_atlas, thumbnails_of
from app.library.duplicates import iter_points, scope_filter
from app.storage import VectorStore, open_store
from app.storage.thumbs import ThumbnailCache

log = logging.getLogger("build_atlas")


def read_ids(path: Path) -> list[str]:
    """Ids from a text file (one a line), a JSON list, or a JSON object with `hits`/`items`."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if isinstance(data, dict):
        data = data.get("hits") or data.get("items") or []
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of ids or an object with `hits`")
    return [str(x["id"]) if isinstance(x, dict) else str(x) for x in data]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("data/atlas/atlas.png"), help="page file (and manifest stem)")
    p.add_argument("--cell", type=int, default=128, help="side of a square cell, pixels")
    p.add_argument("--max-side", type=int, default=4096, help="largest page side, pixels (GPU texture limit)")
    p.add_argument("--padding", type=int, default=0, help="transparent margin inside each cell, pixels")
    p.add_argument("--library", default=None, help="only this library (whole-collection atlas)")
    p.add_argument("--ids", default=None, help="comma-separated item ids, in atlas order")
    p.add_argument("--ids-file", type=Path, default=None, help="ids: text lines, JSON list, or a search response")
    p.add_argument("--limit", type=int, default=None, help="at most this many items")
    p.add_argument("--qdrant-url", default=None)
    p.add_argument("--qdrant-path", type=Path, default=None)
    p.add_argument("--collection", default=None)
    p.add_argument("--images-root", type=Path, default=None)
    p.add_argument("--thumbs-root", type=Path, default=None)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.cell < 8:
        p.error(f"--cell must be at least 8 pixels, got {args.cell}")
    if args.max_side < args.cell:
        p.error(f"--max-side ({args.max_side}) must be at least --cell ({args.cell})")
    if args.padding < 0 or 2 * args.padding >= args.cell:
        p.error(f"--padding must be between 0 and {(args.cell - 1) // 2}, got {args.padding}")
    if args.ids and args.ids_file:
        p.error("give --ids or --ids-file, not both")
    return args


def main(argv: list[str] | None = None, store: VectorStore | None = None) -> int:
    """`store`: an open store to read instead of opening one from the flags (tests)."""
    args = parse_args(argv)
    setup_logging(args.verbose)
    settings = settings_from_flags(
        QDRANT_URL=args.qdrant_url,
        QDRANT_PATH=args.qdrant_path,
        COLLECTION=args.collection,
        IMAGES_ROOT=args.images_root,
        THUMBS_ROOT=args.thumbs_root,
    )
    owned = store is None
    try:
        store = store or open_store(settings)
        try:
            if args.ids or args.ids_file:
                ids = [i.strip() for i in args.ids.split(",") if i.strip()] if args.ids else read_ids(args.ids_file)
            else:
                ids = [pid for pid, _, _ in iter_points(store, scope_filter(args.library))]
            ids = list(dict.fromkeys(ids))[: args.limit]
            missing: list[dict[str, str]] = []
            thumbs = ThumbnailCache(settings.THUMBS_ROOT, settings.THUMB_SIZE)
            source = thumbnails_of(store, thumbs, settings.IMAGES_ROOT, ids, settings.MAX_IMAGE_PIXELS, missing)
            atlas = build_atlas(
                tqdm(source, total=len(ids), unit="img", desc="atlas", file=sys.stderr),
                cell=args.cell,
                max_side=args.max_side,
                padding=args.padding,
            )
            atlas.missing = missing
        finally:
            if owned:
                store.close()
    except ClippyError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    manifest = atlas.save(args.out)
    print(
        json.dumps(
            {
                "manifest": str(manifest),
                "pages": len(atlas.pages),
                "sprites": len(atlas.sprites),
                "missing": len(missing),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
