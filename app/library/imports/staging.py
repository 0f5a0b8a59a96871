"""Where imported files are kept: one content-addressed folder per library under IMAGES_ROOT."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from app.errors import InvalidInputError, PayloadTooLargeError
from app.ingest.pipeline import MAX_FILE_BYTES
from app.ingest.sources import IMAGE_SUFFIXES
from app.storage.files import atomic_write
from app.storage.schema import content_sha256

_LIBRARY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_library(name: str) -> str:
    """Library names become folder names: letters, digits, - and _ only."""
    if not _LIBRARY.match(name):
        raise InvalidInputError(f"`library` {name!r} may hold 1-64 letters, digits, - and _ only.", field="library")
    return name


class ContentFolder:
    """Imported files by content: one copy per distinct file, under IMAGES_ROOT."""

    def __init__(self, images_root: Path, library: str) -> None:
        self.root = Path(images_root) / "imports" / check_library(library)

    def save(self, data: bytes, name: str) -> tuple[Path, bool]:
        """Where `data` is kept, and whether this call wrote it (False: it was there)."""
        suffix = PurePosixPath(name).suffix.lower()
        suffix = suffix if suffix in IMAGE_SUFFIXES else ".bin"
        sha = content_sha256(data)
        path = self.root / sha[:2] / f"{sha}{suffix}"
        if path.exists():
            return path, False
        atomic_write(path, data)
        return path, True

    def copy_in(self, source: Path) -> tuple[Path, bool]:
        # O_NOFOLLOW: a file swapped for a link after the folder was scanned is refused.
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise PayloadTooLargeError(f"larger than {MAX_FILE_BYTES} bytes", limit=MAX_FILE_BYTES)
        return self.save(data, source.name)

    @staticmethod
    def sha256_of(path: Path) -> str:
        return path.stem  # the layout above: <sha256><ext>
