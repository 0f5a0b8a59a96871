"""Thumbnails generated once per (item, size) and cached on disk."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from app.imaging import to_rgb
from app.storage.files import atomic_write


class ThumbnailCache:
    def __init__(self, root: Path, size: int) -> None:
        self.root = root
        self.size = size

    def path_for(self, point_id: str) -> Path:
        # Two-level fan-out keeps directories small for large libraries.
        return self.root / str(self.size) / point_id[:2] / f"{point_id}.jpg"

    def get(self, point_id: str, original: Path, max_pixels: int) -> Path:
        target = self.path_for(point_id)
        if target.is_file() and target.stat().st_mtime >= original.stat().st_mtime:
            return target
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
