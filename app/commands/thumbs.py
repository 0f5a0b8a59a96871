"""Thumbnails for a whole library ahead of time (`clippy thumbs build`).

\b
  clippy thumbs build                        every stored image, THUMB_SIZE, into THUMBS_ROOT
  clippy thumbs build --library art --workers 4 --size 256

\b
The same thumbnails the server makes on demand for /thumb/{id} (app/storage/thumbs.py: same
folder layout, size and JPEG settings), so the server serves them as they are. Safe to stop
and re-run: fresh thumbnails are skipped and each file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from app.cli_common import settings_from_flags, setup_logging
from app.errors import ClippyError

cli = typer.Typer(add_completion=False, help=__doc__, rich_markup_mode=None, no_args_is_help=True)


@cli.command()
def build(
    library: Annotated[str | None, typer.Option(help="Only this library (default: every library).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Threads decoding and resizing.")] = 2,
    size: Annotated[
        int | None, typer.Option(min=32, max=1024, help="Longest side in pixels (THUMB_SIZE, what /thumb serves).")
    ] = None,
    thumbs_root: Annotated[Path | None, typer.Option(help="Where thumbnails go (THUMBS_ROOT).")] = None,
    images_root: Annotated[
        Path | None, typer.Option(help="The folder stored paths are relative to (IMAGES_ROOT).")
    ] = None,
    qdrant_url: Annotated[str | None, typer.Option(help="Qdrant server/cluster URL.")] = None,
    qdrant_path: Annotated[Path | None, typer.Option(help="Folder of the embedded store (QDRANT_PATH).")] = None,
    collection: Annotated[str | None, typer.Option(help="Collection name (COLLECTION).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after this many items.")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Make every stored image's thumbnail now, in parallel; re-running does only what is missing."""
    from app.storage import open_store
    from app.storage.schema import tenant_filter
    from app.storage.thumbs import ThumbnailCache, build_thumbnails

    setup_logging()
    settings = settings_from_flags(
        QDRANT_URL=qdrant_url,
        QDRANT_PATH=qdrant_path,
        COLLECTION=collection,
        THUMB_SIZE=size,
        THUMBS_ROOT=thumbs_root,
        IMAGES_ROOT=images_root,
    )
    try:
        store = open_store(settings)
    except ClippyError as e:
        typer.echo(f"error: {e.message}", err=True)
        raise typer.Exit(2) from e
    try:
        total = store.count(tenant_filter(library) if library else None) if store.exists() else 0
        if limit is not None:
            total = min(total, limit)
        cache = ThumbnailCache(settings.THUMBS_ROOT, settings.THUMB_SIZE)
        with tqdm(total=total, unit="img", desc="thumbs", disable=not progress) as bar:
            report = build_thumbnails(
                store,
                cache,
                Path(settings.IMAGES_ROOT),
                settings.MAX_IMAGE_PIXELS,
                library=library,
                workers=workers,
                limit=limit,
                progress=bar.update,
            )
    finally:
        store.close()
    for point_id, reason in report.failures[:20]:
        typer.echo(f"failed: {point_id}: {reason}", err=True)
    typer.echo(json.dumps({**report.summary(), "thumbsRoot": str(cache.root / str(cache.size))}))
    if report.failures:
        raise typer.Exit(1)
