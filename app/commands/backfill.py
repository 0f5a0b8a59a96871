"""Compute missing or stale named vectors (edge maps, shape descriptors, tags text) for points already stored.

Run it after changing the edge-map parameters, the shape descriptor or the text template,
for points that were stored without a vector, or after opening a collection made before
the `shape` view (it gets the vector added, empty: `--which shape` fills it, no model
needed). Safe to interrupt and re-run: finished points are skipped.

\b
Example:
  python scripts/backfill_vectors.py --which both
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from tqdm import tqdm

from app.cli_common import settings_from_flags, setup_logging
from app.errors import ClippyError

if TYPE_CHECKING:
    from app.ingest.backfill import Which


def manifest_paths(manifest: Path, base: Path | None, images_root: Path) -> set[str]:
    """The IMAGES_ROOT-relative paths of a manifest's pictures: how the payloads name them.
    Relative rows resolve against `base` (`--images-root`), else the manifest's folder, as for ingest."""
    from app.ingest.sources import read_manifest

    root = images_root.resolve()
    out: set[str] = set()
    for item in read_manifest(manifest, base=base):
        try:
            out.add(item.path.resolve().relative_to(root).as_posix())
        except ValueError:
            out.add(item.path.as_posix())  # outside the root: no point can name it
    return out


cli = typer.Typer(add_completion=False, help=__doc__, rich_markup_mode=None)


@cli.command(help=__doc__)
def main(
    which: Annotated[
        str, typer.Option(help="edge | text | shape | both (edge + text) | all (edge, shape, text)")
    ] = "both",
    manifest: Annotated[
        Path | None,
        typer.Option(
            help="A JSONL/CSV manifest (as for ingest): only the points of its pictures are backfilled "
            "(paths relative to IMAGES_ROOT, or absolute under it)."
        ),
    ] = None,
    images_root: Annotated[Path | None, typer.Option(help="Where payload paths resolve (IMAGES_ROOT).")] = None,
    qdrant_url: Annotated[
        str | None,
        typer.Option(help="Qdrant server/cluster URL (default: the embedded store)."),
    ] = None,
    qdrant_path: Annotated[Path | None, typer.Option(help="Folder of the embedded store (QDRANT_PATH).")] = None,
    collection: Annotated[str | None, typer.Option(help="Collection name (COLLECTION).")] = None,
    model: Annotated[str | None, typer.Option(help="OpenCLIP model name (MODEL_NAME).")] = None,
    pretrained: Annotated[str | None, typer.Option(help="Pretrained tag, checkpoint path, or `random`.")] = None,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda.")] = None,
    text_model: Annotated[
        str | None,
        typer.Option(help="`clip` or a sentence-transformers model (TEXT_MODEL)."),
    ] = None,
    text_template: Annotated[str | None, typer.Option(help="Template for the text view.")] = None,
    clip_batch: Annotated[int, typer.Option(min=1, help="Points per page (and per model forward).")] = 64,
    upsert_batch: Annotated[
        int,
        typer.Option(
            min=1,
            help="The most points written to the store per call.",
        ),
    ] = 64,
    gc_every: Annotated[
        int,
        typer.Option(min=0, help="Run the garbage collector (and empty the CUDA cache) every N points (0 = never)."),
    ] = 0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    # Here, not at the top: `clippy --help` and the booru fetch need no torch.
    from app.embedding import load_encoders
    from app.ingest.backfill import VIEWS_OF, backfill
    from app.storage import open_store

    setup_logging(verbose)
    if which not in VIEWS_OF:
        raise typer.BadParameter(f"--which must be one of {', '.join(VIEWS_OF)}, not {which!r}")
    view: Which = which  # type: ignore[assignment]
    settings = settings_from_flags(
        QDRANT_URL=qdrant_url,
        QDRANT_PATH=qdrant_path,
        COLLECTION=collection,
        MODEL_NAME=model,
        PRETRAINED=pretrained,
        DEVICE=device,
        TEXT_MODEL=text_model,
        TEXT_TEMPLATE=text_template,
        IMAGES_ROOT=images_root,
    )
    try:
        paths = manifest_paths(manifest, images_root, settings.IMAGES_ROOT) if manifest is not None else None
        encoders = load_encoders(settings)
        store = open_store(settings)
        try:
            with tqdm(total=store.count(), unit="pt", desc=f"backfill {which}") as bar:

                def advance(n: int) -> None:
                    bar.update(n)

                report = backfill(
                    encoders,
                    store,
                    settings.IMAGES_ROOT,
                    view,
                    clip_batch,
                    settings.MAX_IMAGE_PIXELS,
                    advance,
                    paths=paths,
                    upsert_batch=upsert_batch,
                    gc_every=gc_every,
                )
        finally:
            store.close()
    except ClippyError as e:
        typer.echo(f"error: {e.message}", err=True)
        raise typer.Exit(2) from e
    for f in report.failures[:20]:
        typer.echo(f"failed: {f.path}: {f.reason}", err=True)
    typer.echo(
        json.dumps(
            {
                "scanned": report.scanned,
                "updated": report.updated,
                "failed": len(report.failures),
            }
        )
    )
