"""Find exact and near-duplicate images in a collection (and, optionally, among files).

exact: the same file content (sha256) — in a collection, the same picture in several
       libraries (one library never stores the same content twice: ingestion skips it).
near:  image-vector cosine at or above --threshold (resized, re-encoded, lightly edited
       copies), from each item's nearest neighbours in the `image` view.
--files DIR also hashes every image file below DIR: exact copies on disk, before import.

No model is loaded: the stored vectors are compared. Writes JSON (stdout, or --out).

examples:
  python scripts/find_duplicates.py --threshold 0.95 --out data/duplicates.json
  python scripts/find_duplicates.py --library default --files assets/sample
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from app.cli_common import settings_from_flags, setup_logging
from app.errors import ClippyError
from app.ingest.sources import scan_folder
from app.library.duplicates import duplicate_report, files_by_content, scope_filter
from app.storage import VectorStore, open_store

log = logging.getLogger("find_duplicates")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threshold", type=float, default=None, help="near-duplicate cosine (DUPLICATE_THRESHOLD)")
    p.add_argument("--library", default=None, help="only this library (default: the whole collection)")
    p.add_argument("--neighbours", type=int, default=10, help="nearest neighbours looked at per item")
    p.add_argument("--files", type=Path, default=None, help="also find identical files below this folder")
    p.add_argument("--no-store", action="store_true", help="only the --files scan; do not open the collection")
    p.add_argument("--out", type=Path, default=None, help="write the JSON report here (default: stdout)")
    p.add_argument("--qdrant-url", default=None)
    p.add_argument("--qdrant-path", type=Path, default=None)
    p.add_argument("--collection", default=None)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        p.error(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.neighbours < 1:
        p.error(f"--neighbours must be at least 1, got {args.neighbours}")
    return args


def main(argv: list[str] | None = None, store: VectorStore | None = None) -> int:
    """`store`: an open store to scan instead of opening one from the flags (tests)."""
    args = parse_args(argv)
    setup_logging(args.verbose)
    settings = settings_from_flags(QDRANT_URL=args.qdrant_url, QDRANT_PATH=args.qdrant_path, COLLECTION=args.collection)
    threshold = settings.DUPLICATE_THRESHOLD if args.threshold is None else args.threshold
    out: dict[str, Any] = {}
    try:
        if not args.no_store:
            owned = store is None
            store = store or open_store(settings)
            try:
                total = store.count(scope_filter(args.library)) if store.exists() else 0
                with tqdm(total=total, unit="pt", desc="duplicates", file=sys.stderr) as bar:
                    report = duplicate_report(
                        store,
                        threshold,
                        library=args.library,
                        neighbours=args.neighbours,
                        hnsw_ef=settings.HNSW_EF,
                        progress=bar.update,
                    )
            finally:
                if owned:
                    store.close()
            out["store"] = report.model_dump(by_alias=True)
        if args.files is not None:
            folder = args.files.resolve()
            paths = [item.path for item in scan_folder(folder)]
            groups = files_by_content(tqdm(paths, unit="file", desc="hashing", file=sys.stderr), folder)
            out["files"] = [g.model_dump(by_alias=True, include={"keep", "members"}) for g in groups]
    except ClippyError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    text = json.dumps(out, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
        store_part = out.get("store", {})
        log.info(
            "%d exact and %d near groups in %d items; %d groups of identical files → %s",
            len(store_part.get("exact", [])),
            len(store_part.get("near", [])),
            store_part.get("scanned", 0),
            len(out.get("files", [])),
            args.out,
        )
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
