"""Reading a ZIP of images within its limits (entries, unpacked total, compression ratio)."""

from __future__ import annotations

import io
import stat
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from app.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaError
from app.ingest.sources import IMAGE_SUFFIXES


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int
    max_total_bytes: int
    max_ratio: float


def _safe_member(name: str) -> str:
    """An archive member's path, refused if it could land outside the extraction folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or path.is_absolute() or ".." in path.parts:
        raise InvalidInputError(f"ZIP entry {name!r} would escape the import folder.", entry=name)
    if not path.parts:  # "", "." or "./.": no file name to store it under
        raise InvalidInputError(f"ZIP entry {name!r} has no file name.", entry=name)
    if ":" in path.parts[0]:
        raise InvalidInputError(f"ZIP entry {name!r} would escape the import folder.", entry=name)
    return str(path)


def read_zip(data: bytes, limits: ZipLimits) -> tuple[list[tuple[str, bytes]], list[dict[str, str]]]:
    """The image files of a ZIP as (name, bytes), plus the entries skipped and why.

    Refused as a whole, before anything is decompressed: too many entries, a declared
    uncompressed total over the limit, a member compressed more than `max_ratio`:1 (a ZIP
    bomb), or a path that escapes. Declared sizes are not trusted: reads stop one byte
    past them.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise UnsupportedMediaError(f"`archive` is not a ZIP file: {e}") from e
    with archive:
        if any(not m.filename for m in archive.infolist()):  # before is_dir(), which fails on ""
            raise InvalidInputError("ZIP entry '' has no file name.", entry="")
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > limits.max_entries:
            raise PayloadTooLargeError(
                f"the ZIP has {len(members)} entries; the limit is {limits.max_entries} (ZIP_MAX_ENTRIES).",
                limit=limits.max_entries,
            )
        total = sum(m.file_size for m in members)
        if total > limits.max_total_bytes:
            raise PayloadTooLargeError(
                f"the ZIP unpacks to {total} bytes; the limit is {limits.max_total_bytes} (ZIP_MAX_TOTAL_BYTES).",
                limit=limits.max_total_bytes,
            )
        files: list[tuple[str, bytes]] = []
        skipped: list[dict[str, str]] = []
        for m in members:
            name = _safe_member(m.filename)
            if m.file_size > limits.max_ratio * max(m.compress_size, 1) and m.file_size > 1024 * 1024:
                raise PayloadTooLargeError(
                    f"ZIP entry {m.filename!r} is compressed {m.file_size / max(m.compress_size, 1):.0f}:1; "
                    f"the limit is {limits.max_ratio:.0f}:1 (ZIP_MAX_RATIO).",
                    entry=m.filename,
                )
            if stat.S_ISLNK(m.external_attr >> 16):
                skipped.append({"path": m.filename, "reason": "symbolic link"})
                continue
            if PurePosixPath(name).suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append({"path": m.filename, "reason": "not an image file name"})
                continue
            with archive.open(m) as fh:
                body = fh.read(m.file_size + 1)
            if len(body) > m.file_size:
                raise PayloadTooLargeError(f"ZIP entry {m.filename!r} is larger than it declares.", entry=m.filename)
            files.append((name, body))
        return files, skipped
