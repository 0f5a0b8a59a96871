"""Files under configured roots: safe resolution and cached thumbnails."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from app.errors import ForbiddenError, NotFoundError


def safe_join(root: Path, relative: str) -> Path:
    """`root / relative`, refusing anything that would land outside `root`.

    Refused: absolute paths, `..` segments, NUL bytes, backslashes and encoded separators
    that survived URL decoding, and symlinks whose target is outside the root (checked on
    the fully resolved path, so a link anywhere in the chain counts).
    """
    if not relative or "\x00" in relative or "\\" in relative or "%2f" in relative.lower() or "%5c" in relative.lower():
        raise ForbiddenError(f"path {relative!r} is not allowed")
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise ForbiddenError(f"path {relative!r} must be relative to its root, without `..`")
    base = root.resolve()
    target = (base / candidate).resolve()
    if not target.is_relative_to(base):
        raise ForbiddenError(f"path {relative!r} resolves outside its root")
    if not target.is_file():
        raise NotFoundError(f"file {relative!r} does not exist under its root")
    return target


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file beside `path`, then rename over it: readers see the old file or
    the new one, never half of one. The temp name is unique per call (not per process), so
    two threads writing the same thumbnail cannot truncate each other's temp file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
