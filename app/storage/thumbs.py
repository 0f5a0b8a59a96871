"""Thumbnails generated once per (item, size) and cached on disk."""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from app.errors import ClippyError
from app.imaging import to_rgb
from app.storage.base import VectorStore
from app.storage.files import atomic_write, safe_join
from app.storage.payload import Payload
from app.storage.schema import tenant_filter
from app.storage.types import StoredPoint


class ThumbnailCache:
    def __init__(self, root: Path, size: int) -> None:
        self.root = root
        self.size = size

    def path_for(self, point_id: str) -> Path:
        # Two-level fan-out keeps directories small for large libraries.
        return self.root / str(self.size) / point_id[:2] / f"{point_id}.jpg"

    def cached(self, point_id: str, original: Path) -> Path | None:
        """The thumbnail, when one at least as new as the original is there (no decoding)."""
        target = self.path_for(point_id)
        if target.is_file() and target.stat().st_mtime >= original.stat().st_mtime:
            return target
        return None

    def get(self, point_id: str, original: Path, max_pixels: int) -> Path:
        target = self.path_for(point_id)
        if (fresh := self.cached(point_id, original)) is not None:
            return fresh
        with Image.open(original) as img:
            if img.width * img.height > max_pixels:
                raise ValueError(f"{original.name} is larger than MAX_IMAGE_PIXELS")
            img.draft("RGB", (self.size, self.size))  # JPEG decodes at reduced scale: fast
            thumb = to_rgb(img)
            thumb.thumbnail((self.size, self.size))
        buf = io.BytesIO()
        thumb.save(buf, format="JPEG", quality=85, optimize=True)
        atomic_write(target, buf.getvalue())
        return target

    def invalidate(self, point_id: str) -> None:
        self.path_for(point_id).unlink(missing_ok=True)


@dataclass
class ThumbnailReport:
    """What `build_thumbnails` did: made, already there (fresh), and failed with the reason."""

    made: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {"made": self.made, "skipped": self.skipped, "failed": len(self.failures)}


def build_thumbnails(
    store: VectorStore,
    cache: ThumbnailCache,
    images_root: Path,
    max_pixels: int,
    *,
    library: str | None = None,
    workers: int = 2,
    page: int = 256,
    limit: int | None = None,
    progress: Callable[[int], object] = lambda n: None,
) -> ThumbnailReport:
    """Every stored item's thumbnail ahead of time, as `/thumb/{id}` would make it (the same
    cache, paths and size), so a large library's first browse serves files instead of decoding.

    Resumable: a fresh thumbnail is skipped, and each is written atomically, so a run stopped
    half-way leaves whole files only and the next run does the rest. Memory stays bounded by
    `page` (one page of points in flight at a time), whatever the library's size.
    """
    if workers < 1:
        raise ValueError(f"`workers` must be >= 1 but is {workers}.")
    report = ThumbnailReport()
    if not store.exists():
        return report
    flt = tenant_filter(library) if library else None

    def one(point: StoredPoint) -> str | None:
        """None when made, "skip" when fresh already, else the reason it failed."""
        rel = Payload.read(point.payload).path
        try:
            original = safe_join(images_root, rel or "")
            target = cache.path_for(point.id)
            if target.is_file() and target.stat().st_mtime >= original.stat().st_mtime:
                return "skip"
            cache.get(point.id, original, max_pixels)
        except ClippyError as e:
            return e.message
        except (OSError, ValueError) as e:
            return str(e)
        return None

    offset: str | None = None
    seen = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="thumbs") as pool:
        while True:
            size = page if limit is None else min(page, limit - seen)
            if size <= 0:
                break
            points, offset = store.scroll(flt, limit=size, offset=offset)
            for point, outcome in zip(points, pool.map(one, points), strict=True):
                if outcome is None:
                    report.made += 1
                elif outcome == "skip":
                    report.skipped += 1
                else:
                    report.failures.append((point.id, outcome))
                progress(1)
            seen += len(points)
            if offset is None or not points:
                break
    return report
