"""Where imported files are kept: one content-addressed folder per library under IMAGES_ROOT."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from app.errors import InvalidInputError, PayloadTooLargeError
from app.ingest.pipeline import MAX_FILE_BYTES
from app.ingest.sources import IMAGE_SUFFIXES
from app.storage.files import atomic_write
from app.storage.schema import content_sha256

LIBRARY_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_library(name: str) -> str:
    """Library names become folder names: letters, digits, - and _ only."""
    if not LIBRARY_NAME.match(name):
        raise InvalidInputError(f"`library` {name!r} may hold 1-64 letters, digits, - and _ only.", field="library")
    return name


class ContentFolder:
    """Imported files by content: one copy per distinct file, under IMAGES_ROOT."""

    def __init__(self, images_root: Path, library: str) -> None:
        self.root = Path(images_root) / "imports" / check_library(library)

    def save(self, data: bytes, name: str) -> tuple[Path, bool]:
        """Where `data` is kept, and whether this call wrote it (False: it was there)."""
        path = self.path_for(content_sha256(data), name)
        if _reuse(path):
            return path, False
        atomic_write(path, data)
        return path, True

    def save_stream(self, chunks: Iterable[bytes], name: str) -> tuple[Path, bool]:
        """`save` for bytes that arrive in chunks (ZIP members): written to a temp file beside
        the folder while hashed, then renamed to their content address, so memory holds one
        chunk. The temp file goes if anything fails (a chunk source may raise mid-way)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{uuid.uuid4().hex}.tmp"
        digest = hashlib.sha256()
        try:
            with tmp.open("wb") as fh:
                for chunk in chunks:
                    digest.update(chunk)
                    fh.write(chunk)
            path = self.path_for(digest.hexdigest(), name)
            if _reuse(path):
                tmp.unlink()
                return path, False
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
            return path, True
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def path_for(self, sha: str, name: str) -> Path:
        """Where the file of content `sha`, uploaded as `name`, is kept."""
        suffix = PurePosixPath(name).suffix.lower()
        suffix = suffix if suffix in IMAGE_SUFFIXES else ".bin"
        return self.root / sha[:2] / f"{sha}{suffix}"

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


def _reuse(path: Path) -> bool:
    """Whether `path` is already staged; if so its time is refreshed, so the sweep of staged
    files no point refers to (orphans.py) counts its grace period from this request."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True
