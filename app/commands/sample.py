"""A sample library in a folder, with its manifest.jsonl, ready for `clippy ingest --manifest`.

\b
  clippy sample fetch --out data/sample                  the demo's sample (what `clippy demo` serves)
  clippy sample fetch --out data/sample --build --count 96
                                                         rendered anew from installed packages
                                                         (openclipart-svg, scikit-image; a checkout)
  clippy sample fetch --out data/web --url https://…/a.jpg --urls-file more.txt --tag web
                                                         pictures by URL, through the guarded fetcher

\b
URLs go through the server's fetcher (app/net/fetch.py): public addresses only (unless
FETCH_ALLOW_PRIVATE=true), MAX_UPLOAD_BYTES, FETCH_TIMEOUT_S; each must decode as an image.
Safe to re-run: URLs already in the manifest are skipped; failures are listed, not fatal.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from app.cli_common import settings_from_flags, setup_logging

cli = typer.Typer(add_completion=False, help=__doc__, rich_markup_mode=None, no_args_is_help=True)

CHECKOUT = Path(__file__).resolve().parents[2]  # app/commands/ -> the checkout
DEMO_SAMPLE = CHECKOUT / "assets" / "sample"
BUILDER = CHECKOUT / "scripts" / "make_sample_library.py"


@cli.command()
def fetch(
    out: Annotated[Path, typer.Option(help="Folder to write the images and manifest.jsonl into.")],
    url: Annotated[list[str] | None, typer.Option(help="An image URL (repeat for more).")] = None,
    urls_file: Annotated[Path | None, typer.Option(help="A file of image URLs, one a line (# comments).")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="A tag for every fetched URL (repeat for more).")] = None,
    build: Annotated[
        bool, typer.Option("--build", help="Render the demo sample anew (scripts/make_sample_library.py).")
    ] = False,
    count: Annotated[int, typer.Option(min=1, max=2000, help="With --build: clip-art images to render.")] = 48,
    seed: Annotated[int, typer.Option(help="With --build: which clip art is picked.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace a sample library already in --out.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """The demo's sample library, or pictures by URL, into a folder with a manifest."""
    from app.ingest.sample import copy_demo_sample, fetch_sample

    setup_logging()
    urls = list(url or [])
    if urls_file is not None:
        lines = urls_file.read_text(encoding="utf-8").splitlines()
        urls += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if urls:
        if build:
            raise typer.BadParameter("give URLs or --build, not both")
        settings = settings_from_flags()
        with tqdm(total=len(urls), unit="url", desc="fetch", disable=not progress) as bar:
            try:
                report = fetch_sample(urls, out, settings, tags=list(tag or []), progress=bar.update)
            except ValueError as e:
                raise typer.BadParameter(str(e)) from e
        for failed, reason in report.failures[:20]:
            typer.echo(f"failed: {failed}: {reason}", err=True)
        typer.echo(json.dumps({**report.summary(), "manifest": str(out / "manifest.jsonl")}))
        if report.failures:
            raise typer.Exit(1)
        return
    if build:
        if not BUILDER.is_file():
            typer.echo(
                f"error: --build needs a checkout ({BUILDER} is missing); without it the demo sample is copied",
                err=True,
            )
            raise typer.Exit(2)
        args = [sys.executable, str(BUILDER), "--out", str(out), "--count", str(count), "--seed", str(seed)]
        done = subprocess.run([*args, *(["--force"] if force else [])], check=False)
        if done.returncode != 0:
            raise typer.Exit(done.returncode)
        typer.echo(json.dumps({"manifest": str(out / "manifest.jsonl")}))
        return
    try:
        images = copy_demo_sample(DEMO_SAMPLE, out, force=force)
    except (FileNotFoundError, FileExistsError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(json.dumps({"copied": images, "manifest": str(out / "manifest.jsonl")}))
