"""Generate an image without the server: the API's own generation service and provider
(request checks, reference resolution, the `generate` job), run in this process.

\b
  clippy generate --prompt "a lighthouse at dusk" --out lighthouse.png
  clippy generate --prompt "a cat" --ref style:0b7c…-uuid:0.7 --ref subject:photos/cat.jpg:0.6 \\
      --out cat.png --provider sdxl --seed 7
  clippy generate --prompt "a red door" --base house.png --mask door-mask.png --out door.png

\b
--ref ROLE:SOURCE[:WEIGHT]   ROLE as in the API (style, subject, …); SOURCE a library image id
                             (read from the store, as the API resolves `id`), an http(s) URL
                             (through the guarded fetcher) or a file; WEIGHT 0–1 (default 1).
--base / --mask              edit a picture (img2img; with a mask, inpaint): files, a URL or an
                             id for the base. Settings (SDXL_MODEL, GOOGLE_API_KEY, …) as the server's.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from tqdm import tqdm

from app.cli_common import settings_from_flags, setup_logging
from app.errors import ClippyError

if TYPE_CHECKING:
    from app.config import Settings
    from app.generation.base import ImageProvider
    from app.generation.library import ResolveLibraryImage
    from app.generation.service import Upload

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def source_of(text: str, uploads: list[Upload], what: str) -> dict[str, Any]:
    """An `ImageSource` field for `text`: a library id, a URL, or a file (appended to `uploads`)."""
    from app.generation.service import Upload

    if _UUID.match(text):
        return {"id": text}
    if text.startswith(("http://", "https://")):
        return {"url": text}
    path = Path(text)
    if not path.is_file():
        raise typer.BadParameter(f"{what}: {text!r} is not a library id, an http(s) URL or a file")
    uploads.append(Upload(path.read_bytes(), path.name))
    return {"upload": len(uploads) - 1}


def parse_ref(text: str, uploads: list[Upload]) -> dict[str, Any]:
    """`ROLE:SOURCE[:WEIGHT]`: the weight is the part after the last colon when it is a number
    (a URL's own colons stay in SOURCE)."""
    role, sep, rest = text.partition(":")
    if not sep or not rest:
        raise typer.BadParameter(f"--ref {text!r}: expected ROLE:SOURCE[:WEIGHT], e.g. style:cat.png:0.7")
    weight: float | None = None
    head, sep, tail = rest.rpartition(":")
    if sep and head:
        try:
            weight = float(tail)
            rest = head
        except ValueError:
            pass
    ref = {"role": role, **source_of(rest, uploads, f"--ref {text!r}")}
    return ref if weight is None else {**ref, "weight": weight}


def _resolver(settings: Settings) -> tuple[ResolveLibraryImage, list[Any]]:
    """Refs by id from the store, opened on first use (a run without ids needs no store)."""
    from app.library.manage import library_image_path
    from app.storage import open_store

    opened: list[Any] = []

    def resolve(image_id: str) -> Path:
        if not opened:
            opened.append(open_store(settings))
        return library_image_path(opened[0], Path(settings.IMAGES_ROOT), image_id)

    return resolve, opened


async def run_generation(
    settings: Settings,
    body: dict[str, Any],
    uploads: list[Upload],
    base_upload: Upload | None,
    mask_upload: Upload | None,
    resolve: ResolveLibraryImage,
    sketch_upload: Upload | None = None,
    on_progress: Any = None,
    poll_s: float = 0.2,
    providers: dict[str, ImageProvider] | None = None,
) -> dict[str, Any]:
    """Submit through `GenerationService.submit` (every check the API makes) and run the job
    on an in-process queue; the job's result, or the ClippyError it failed with. `providers`:
    ready providers by name (tests hand in a warm one), else built from the settings as the API does."""
    from app.errors import ProviderError
    from app.generation.models import GenerateRequest
    from app.services import build_generation_and_jobs

    try:
        request = GenerateRequest.model_validate(body)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    generation, jobs = build_generation_and_jobs(settings, resolve_library_image=resolve, providers=providers)
    await generation.start()
    await jobs.start()
    try:
        job = await generation.submit(
            request, uploads=uploads, sketch_upload=sketch_upload, base_upload=base_upload, mask_upload=mask_upload
        )
        while not job.finished:
            await asyncio.sleep(poll_s)  # the in-process queue has no completion event to await
            job = await jobs.get(job.id)
            if on_progress is not None and job.progress is not None:
                on_progress(job.progress.step, job.progress.total)
    finally:
        await jobs.stop()
        if providers is None:  # handed-in providers are the caller's to close
            await generation.stop()
    if job.status != "succeeded" or job.result is None:
        message = job.error.message if job.error else f"the job ended {job.status}"
        raise ProviderError(message)
    return job.result


def main(
    prompt: Annotated[str, typer.Option(help="What to draw.")],
    out: Annotated[Path, typer.Option(help="Where to write the image (with --n above 1: NAME-1.png, …).")],
    ref: Annotated[list[str] | None, typer.Option(help="ROLE:SOURCE[:WEIGHT] (repeat for more).")] = None,
    provider: Annotated[str | None, typer.Option(help="sdxl | imagen | gemini (GENERATION_PROVIDER).")] = None,
    negative: Annotated[str | None, typer.Option(help="Negative prompt.")] = None,
    base: Annotated[str | None, typer.Option(help="A picture to start from: file, URL or library id.")] = None,
    mask: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="With --base: white = edit, black = keep (a file).")
    ] = None,
    strength: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="With --base: how far to move.")] = None,
    sketch: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="A sketch to follow (a file).")
    ] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed (default: random).")] = None,
    width: Annotated[int | None, typer.Option(min=64, max=4096, help="Width (default: the API's).")] = None,
    height: Annotated[int | None, typer.Option(min=64, max=4096, help="Height (default: the API's).")] = None,
    n: Annotated[int, typer.Option(min=1, help="How many images.")] = 1,
    steps: Annotated[int | None, typer.Option(min=1, help="Denoising steps (SDXL).")] = None,
    guidance: Annotated[float | None, typer.Option(min=0.0, max=50.0, help="Guidance scale.")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Generate an image with a provider, without the server (the API's own service and checks)."""
    from PIL import Image

    from app.generation.service import Upload

    setup_logging()
    if mask is not None and base is None:
        raise typer.BadParameter("--mask needs --base")
    uploads: list[Upload] = []
    body: dict[str, Any] = {"prompt": prompt, "n": n}
    body["refs"] = [parse_ref(r, uploads) for r in ref or []]
    optional = {
        "provider": provider,
        "negativePrompt": negative,
        "seed": seed,
        "width": width,
        "height": height,
        "steps": steps,
        "guidance": guidance,
        "strength": strength,
    }
    body |= {k: v for k, v in optional.items() if v is not None}
    base_upload = mask_upload = sketch_upload = None
    if base is not None:
        scratch: list[Upload] = []
        source = source_of(base, scratch, "--base")
        if scratch:
            base_upload = scratch[0]
        else:
            body["baseImage"] = source
    if mask is not None:
        mask_upload = Upload(mask.read_bytes(), mask.name)
    if sketch is not None:
        sketch_upload = Upload(sketch.read_bytes(), sketch.name)

    settings = settings_from_flags()
    resolve, opened = _resolver(settings)
    with tempfile.TemporaryDirectory(prefix="clippy-generate-") as tmp:
        # Its own files and an in-process queue: nothing is left in GENERATED_ROOT, and a
        # server's redis queue is never used (this process runs the job itself).
        local = settings.model_copy(
            update={"GENERATED_ROOT": Path(tmp), "REDIS_URL": None, "JOB_MAX_TRIES": 1, "GENERATION_PRELOAD": False}
        )
        bar = tqdm(total=None, unit="step", desc="generate", disable=not progress)

        def advance(step: int, total: int) -> None:
            bar.total = total
            bar.n = step
            bar.refresh()

        try:
            result = asyncio.run(
                run_generation(local, body, uploads, base_upload, mask_upload, resolve, sketch_upload, advance)
            )
        except ClippyError as e:
            typer.echo(f"error: {e.message}", err=True)
            raise typer.Exit(2 if e.status_code < 500 else 1) from e
        finally:
            bar.close()
            for store in opened:
                store.close()
        written = []
        for i, image in enumerate(result["images"]):
            target = out if len(result["images"]) == 1 else out.with_name(f"{out.stem}-{i + 1}{out.suffix}")
            source_file = Path(tmp) / str(image["url"]).rsplit("/", 1)[-1]
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.suffix.lower() == ".png":
                shutil.copyfile(source_file, target)
            else:
                with Image.open(source_file) as picture:
                    picture.convert("RGB").save(target)
            written.append(str(target))
    summary = {k: result.get(k) for k in ("provider", "model", "seed", "notes")}
    typer.echo(json.dumps({"files": written, **summary}))
