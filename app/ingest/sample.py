"""A sample library in a folder with its manifest: the demo's, copied; or pictures fetched by
URL through the guarded fetcher (app/net/fetch.py), for `clippy sample fetch`."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from app.config import Settings
from app.imaging import decode_image
from app.storage.files import atomic_write

MANIFEST = "manifest.jsonl"
MAX_URLS = 10_000  # one run's list; a longer one is several runs (each resumes)


@dataclass
class SampleReport:
    fetched: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {"fetched": self.fetched, "skipped": self.skipped, "failed": len(self.failures)}


def copy_demo_sample(source: Path, out: Path, *, force: bool = False) -> int:
    """The demo's sample (`source`: a folder with manifest.jsonl, e.g. assets/sample) into
    `out`; the number of images. Refuses to overwrite a manifest unless `force`."""
    manifest = source / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"{source} has no {MANIFEST}: not a sample library")
    if (out / MANIFEST).exists() and not force:
        raise FileExistsError(f"{out} holds a sample library already; add --force to replace it")
    entries = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    for entry in entries:
        target = out / str(entry["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / str(entry["path"]), target)
    # The manifest last: a folder with one is complete.
    atomic_write(out / MANIFEST, manifest.read_bytes())
    return len(entries)


def _manifest_urls(manifest: Path) -> set[str]:
    if not manifest.is_file():
        return set()
    urls = set()
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip() and (url := json.loads(line).get("url")):
            urls.add(str(url))
    return urls


def fetch_sample(
    urls: list[str],
    out: Path,
    settings: Settings,
    *,
    tags: list[str] | None = None,
    transport: Any = None,
    progress: Any = None,
) -> SampleReport:
    """Each URL through the guarded fetcher (public addresses only unless FETCH_ALLOW_PRIVATE,
    MAX_UPLOAD_BYTES, FETCH_TIMEOUT_S), checked to decode as an image within MAX_IMAGE_PIXELS,
    saved under its content's digest and appended to out/manifest.jsonl (path, tags, url).

    Resumable: a URL already in the manifest is skipped; one bad URL is listed, never fatal.
    """
    from app.net.fetch import fetch_url

    if len(urls) > MAX_URLS:
        raise ValueError(f"{len(urls)} URLs in one run; at most {MAX_URLS} (split the list, each run resumes)")
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / MANIFEST
    done = _manifest_urls(manifest)
    report = SampleReport()
    for url in urls:
        if url in done:
            report.skipped += 1
        else:
            try:
                data = anyio.run(
                    lambda u=url: fetch_url(  # type: ignore[misc]
                        u,
                        max_bytes=settings.MAX_UPLOAD_BYTES,
                        timeout_s=settings.FETCH_TIMEOUT_S,
                        allow_private=settings.FETCH_ALLOW_PRIVATE,
                        transport=transport,
                    )
                )
                # Decodes (bounded, reduced) so that what is saved is a picture the ingest can read.
                decode_image(
                    data, max_bytes=settings.MAX_UPLOAD_BYTES, max_pixels=settings.MAX_IMAGE_PIXELS, max_side=64
                )
                extension, (width, height) = _probe(data)
                name = f"{hashlib.sha256(data).hexdigest()[:20]}.{extension}"
                atomic_write(out / name, data)
                entry = {"path": name, "tags": list(tags or []), "url": url, "width": width, "height": height}
                with manifest.open("a", encoding="utf-8") as fh:  # one line per image: a kill loses at most it
                    fh.write(json.dumps(entry) + "\n")
                done.add(url)
                report.fetched += 1
            except Exception as e:  # one bad URL never stops the rest
                report.failures.append((url, getattr(e, "message", None) or str(e)))
        if progress is not None:
            progress(1)
    return report


def _probe(data: bytes) -> tuple[str, tuple[int, int]]:
    """The file extension its format takes and its size, from the header."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        extension = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}.get(img.format or "", "img")
        return extension, img.size
