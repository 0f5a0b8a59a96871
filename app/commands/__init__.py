"""`clippy`: one command for the offline scripts and the service.

\b
  clippy demo          ingest the sample library (what is missing) and serve it on :8000
  clippy serve         serve the API and client with the current settings
  clippy ingest        = python qdrant/embed_and_upsert.py
  clippy backfill      = python scripts/backfill_vectors.py
  clippy fetch-booru   = python scripts/retrieve_safebooru.py
  clippy info          what a collection holds and which model wrote it
  clippy doctor        what is installed and on disk, what is missing, which setting to change
  clippy models pull   download the model weights the settings name (progress, checksums)
  clippy thumbs build  thumbnails for a whole library ahead of time (parallel, resumable)
  clippy sample fetch  the demo sample, or pictures by URL, into a folder with a manifest
  clippy generate      generate an image without the server (--prompt, --ref role:source:weight, --out)
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from app.cli_common import settings_from_flags, setup_logging

# Each runs by the seed's path too (qdrant/embed_and_upsert.py, scripts/backfill_vectors.py,
# scripts/retrieve_safebooru.py), a shim that calls the same module's own Typer app.
from app.commands import backfill, fetch_booru, generate, ingest, models, sample, thumbs

app = typer.Typer(add_completion=False, help=__doc__, rich_markup_mode=None, no_args_is_help=True)
for name, command in (
    ("ingest", ingest),
    ("backfill", backfill),
    ("fetch-booru", fetch_booru),
    ("generate", generate),
):
    app.command(name, help=command.__doc__)(command.main)
app.command("doctor")(models.doctor)
app.add_typer(models.models_app, name="models")
app.add_typer(thumbs.cli, name="thumbs")
app.add_typer(sample.cli, name="sample")

log = logging.getLogger("clippy")


@app.command()
def info(
    collection: Annotated[str | None, typer.Option(help="Collection name (COLLECTION).")] = None,
    qdrant_url: Annotated[str | None, typer.Option(help="Qdrant server/cluster URL.")] = None,
    qdrant_path: Annotated[Path | None, typer.Option(help="Folder of the embedded store.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What a collection holds: points, vectors, and the model that wrote them."""
    from app.storage import open_store
    from app.storage.info import collection_info

    settings = settings_from_flags(COLLECTION=collection, QDRANT_URL=qdrant_url, QDRANT_PATH=qdrant_path)
    store = open_store(settings)
    try:
        data = collection_info(store)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        typer.echo(f"{key:>14}: {value}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the API (OpenAPI at /docs) and the sketch client with the current settings.

    Missing model weights end it at once with the reason and exit status 2 (see main.py).
    """
    import uvicorn

    # main.py configures logging from the settings (a second root handler here would print
    # every line twice). From a checkout it is found from any working directory; a plain
    # `pip install .` does not package it, so there it must be in the working directory.
    from app.api.serving import uvicorn_options

    checkout = Path(__file__).resolve().parents[2]
    app_dir = str(checkout) if (checkout / "main.py").is_file() else "."
    uvicorn.run("main:app", host=host, port=port, app_dir=app_dir, **uvicorn_options(settings_from_flags()))


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Ingest assets/sample into the embedded store (what it lacks: a first run stopped
    half-way finishes) and serve it.

    Uses MODEL_NAME/PRETRAINED when their weights are cached or downloadable. Offline and
    without cached weights it says so and falls back to random CLIP weights (sketch and
    image search are then meaningless) with the packaged all-MiniLM-L6-v2 for the `text`
    view, so text search still works. Its store is data/demo so it never mixes spaces
    with your own collection.
    """
    import uvicorn

    from app.api.app import create_app, load_encoders_or_exit
    from app.api.serving import uvicorn_options
    from app.embedding.availability import weights_available

    setup_logging()
    repo = Path(__file__).resolve().parents[2]  # app/commands/ -> the checkout
    settings = settings_from_flags()
    demo: dict[str, object] = {
        "AUTO_INGEST": True,
        "IMAGES_ROOT": repo / "assets" / "sample",
        "THUMBS_ROOT": repo / "data" / "demo" / "thumbs",
        "QDRANT_URL": None,
    }
    ok, why = weights_available(settings.MODEL_NAME, settings.PRETRAINED)
    if ok:
        demo["QDRANT_PATH"] = repo / "data" / "demo" / "qdrant"
    else:
        log.warning(
            "\n\n  OpenCLIP weights for MODEL_NAME=%s PRETRAINED=%s are not available: %s\n"
            "  The demo continues with RANDOM CLIP weights (sketch/image results are meaningless) and\n"
            "  TEXT_MODEL=all-MiniLM-L6-v2 for text search. For real results put a checkpoint on disk and\n"
            "  run with PRETRAINED=/path/to/open_clip_model.safetensors.\n",
            settings.MODEL_NAME,
            settings.PRETRAINED,
            why,
        )
        # A separate store: a collection records its embedding space and refuses others.
        demo |= {
            "PRETRAINED": "random",
            "TEXT_MODEL": "all-MiniLM-L6-v2",
            "QDRANT_PATH": repo / "data" / "demo" / "qdrant-random",
        }
    settings = settings.model_copy(update=demo)
    # Loaded before serving: a weights problem is its message and exit status 2, no traceback.
    asgi = create_app(settings, encoders=load_encoders_or_exit(settings))
    typer.echo(f"Clippy demo on http://{host}:{port}  (API docs at /docs)", err=True)
    uvicorn.run(asgi, host=host, port=port, **uvicorn_options(settings))
