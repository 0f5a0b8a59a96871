"""Embed a library of images into Qdrant: image, edge-map and tags-text vectors + sparse tags.

Examples:

\b
  python qdrant/embed_and_upsert.py --images-dir ./my_images
  python qdrant/embed_and_upsert.py --manifest data/safebooru/manifest.jsonl \\
      --images-root data/safebooru --model ViT-B-32 --pretrained laion2b_s34b_b79k \\
      --clip-batch 32 --workers 4

\b
Safe to re-run: items already stored (same file content) are skipped, so an interrupted
run resumes where it stopped. Unreadable files are listed in the errors file and skipped.

\b
Payload paths are stored relative to the images root (--images-root, else --images-dir,
else IMAGES_ROOT), the folder the server serves images from: a file outside it is refused
(listed with the reason), and when the root is not the configured IMAGES_ROOT the run says
so, because the server must then run with IMAGES_ROOT set to that folder. Symbolic links
found by --images-dir are not followed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from app.cli_common import settings_from_flags, setup_logging
from app.errors import ClippyError

cli = typer.Typer(add_completion=False, help=__doc__, rich_markup_mode=None)


@cli.command(help=__doc__)
def main(
    manifest: Annotated[Path | None, typer.Option(help="JSONL or CSV with `path` and `tags` per item.")] = None,
    images_dir: Annotated[
        Path | None, typer.Option(help="Ingest every image below this folder (sub-folders become tags).")
    ] = None,
    images_root: Annotated[
        Path | None,
        typer.Option(
            help="The folder the server serves images from (its IMAGES_ROOT): payload paths are stored relative "
            "to it and files outside it are refused (default: --images-dir, else IMAGES_ROOT)."
        ),
    ] = None,
    qdrant_url: Annotated[
        str | None, typer.Option(help="Qdrant server/cluster URL (default: the embedded store at QDRANT_PATH).")
    ] = None,
    qdrant_path: Annotated[Path | None, typer.Option(help="Folder of the embedded store (QDRANT_PATH).")] = None,
    collection: Annotated[str | None, typer.Option(help="Collection name (COLLECTION).")] = None,
    model: Annotated[str | None, typer.Option(help="OpenCLIP model name (MODEL_NAME), e.g. ViT-B-32.")] = None,
    pretrained: Annotated[
        str | None, typer.Option(help="Pretrained tag, checkpoint path, or `random` (PRETRAINED).")
    ] = None,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda (DEVICE).")] = None,
    text_model: Annotated[
        str | None, typer.Option(help="`clip` or a sentence-transformers model for the text view (TEXT_MODEL).")
    ] = None,
    text_template: Annotated[
        str | None, typer.Option(help='Sentence for the text view, e.g. "an illustration with {tags}".')
    ] = None,
    library: Annotated[str | None, typer.Option(help="Library (tenant) the items belong to.")] = None,
    clip_batch: Annotated[int, typer.Option(min=1, help="Images per model forward.")] = 32,
    upsert_batch: Annotated[int, typer.Option(min=1, help="Items per write to Qdrant (and per resume step).")] = 64,
    workers: Annotated[
        int, typer.Option(min=1, help="Threads reading, decoding and edge-mapping ahead of the model.")
    ] = 2,
    gc_every: Annotated[int, typer.Option(min=0, help="Run the garbage collector every N items (0 = never).")] = 0,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many items (for trying things out).")
    ] = None,
    errors_file: Annotated[Path, typer.Option(help="Where to list the files that failed, one JSON line each.")] = Path(
        "ingest_errors.jsonl"
    ),
    optimize: Annotated[
        bool | None,
        typer.Option(
            "--optimize/--no-optimize",
            help="Build the HNSW index at the end (default: above OPTIMIZE_THRESHOLD points).",
        ),
    ] = None,
    cache: Annotated[
        bool,
        typer.Option("--cache/--no-cache", help="Reuse picture/edge vectors of files seen before (EMBED_CACHE_PATH)."),
    ] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    # Here, not at the top: `clippy --help` and the booru fetch need no torch.
    from app.embedding import load_encoders
    from app.embedding.cache import EmbeddingCache
    from app.ingest.pipeline import Failure, IngestOptions, Ingestor, write_failures
    from app.ingest.sources import read_manifest, scan_folder
    from app.storage import open_store

    setup_logging(verbose)
    if (manifest is None) == (images_dir is None):
        raise typer.BadParameter("give exactly one of --manifest or --images-dir")
    settings = settings_from_flags(
        QDRANT_URL=qdrant_url,
        QDRANT_PATH=qdrant_path,
        COLLECTION=collection,
        MODEL_NAME=model,
        PRETRAINED=pretrained,
        DEVICE=device,
        TEXT_MODEL=text_model,
        TEXT_TEMPLATE=text_template,
    )
    root = (images_root or images_dir or settings.IMAGES_ROOT).resolve()
    if root != Path(settings.IMAGES_ROOT).resolve():
        # Stored paths are relative to `root`; a server with another IMAGES_ROOT cannot serve them.
        typer.echo(
            f"note: payload paths are relative to {root}, but IMAGES_ROOT is {Path(settings.IMAGES_ROOT).resolve()}: "
            f"run the server with IMAGES_ROOT={root} to serve these images.",
            err=True,
        )
    refused: list[Failure] = []
    try:
        if manifest:
            items = list(read_manifest(manifest, base=images_root))
        else:
            assert images_dir is not None
            found = scan_folder(images_dir, lambda path, why: refused.append(Failure(str(path), why)))
            items = list(found)
        if limit:
            items = items[:limit]
        encoders = load_encoders(settings)
        store = open_store(settings)
        vector_cache = (
            EmbeddingCache(settings.EMBED_CACHE_PATH, encoders.space()) if cache and settings.EMBED_CACHE_PATH else None
        )
        try:
            opts = IngestOptions(
                cache=vector_cache,
                library=library or settings.DEFAULT_LIBRARY,
                clip_batch=clip_batch,
                upsert_batch=upsert_batch,
                workers=workers,
                gc_every=gc_every,
                images_root=root,
                max_pixels=settings.MAX_IMAGE_PIXELS,
            )
            ingestor = Ingestor(encoders, store, opts)
            with tqdm(total=len(items), unit="img", desc="ingest") as bar:

                def advance(n: int) -> None:
                    bar.update(n)

                report = ingestor.run(items, progress=advance)
            report.failures[:0] = refused
            total = store.count()
            if optimize or (optimize is None and report.ingested and total >= settings.OPTIMIZE_THRESHOLD):
                typer.echo(f"building the HNSW index over {total} points (blocks until done)…", err=True)
                store.optimize()
        finally:
            store.close()
            if vector_cache:
                vector_cache.close()
    except ClippyError as e:
        typer.echo(f"error: {e.message}", err=True)
        raise typer.Exit(2) from e
    write_failures(errors_file, report.failures)
    for f in report.failures[:20]:
        typer.echo(f"failed: {f.path}: {f.reason}", err=True)
    summary = {
        **report.summary(),
        "collection_points": total,
        "errors_file": str(errors_file) if report.failures else None,
    }
    typer.echo(json.dumps(summary))
