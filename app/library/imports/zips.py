"""Reading a ZIP of images within its limits, member by member to disk.

Cost model (docs/operations.md, "What an import may cost"): the archive is checked from its
central directory before anything is decompressed, so what it may write is bounded by what
was sent: at most ZIP_MAX_RATIO × the archive's size and at most ZIP_MAX_TOTAL_BYTES, and
memory holds one 64 KiB chunk of one member at a time, never a whole member.
"""

from __future__ import annotations

import io
import lzma
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from app.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaError
from app.ingest.sources import IMAGE_SUFFIXES
from app.library.imports.staging import ContentFolder

CHUNK_BYTES = 64 * 1024
# What a damaged archive raises while it is read: a bad CRC or a header that lies about sizes
# or offsets (BadZipFile, ValueError for a negative seek), a broken deflate/bzip2/LZMA stream
# (zlib.error, OSError with no errno, LZMAError), a stream that ends early (EOFError), or a
# header asking for a feature zipfile lacks (NotImplementedError).
_DAMAGED = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError, NotImplementedError)
_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


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


@dataclass
class ZipPlan:
    """A ZIP that passed every check that needs no decompression: the image members it will
    extract, and the entries it skips and why. `extract` then streams them to disk."""

    archive: zipfile.ZipFile
    members: list[tuple[str, zipfile.ZipInfo]]
    skipped: list[dict[str, str]] = field(default_factory=list)

    def close(self) -> None:
        self.archive.close()

    def __enter__(self) -> ZipPlan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def unpacked(self) -> int:
        """What extracting writes, by the members' headers (reads stop where a header does)."""
        return sum(m.file_size for _, m in self.members)

    def extract(self, folder: ContentFolder) -> Iterator[tuple[str, Path, bool]]:
        """Stream each member into `folder`: (name, where it is kept, whether this call wrote
        it). A member that turns out larger than it declares is refused mid-stream; what this
        generator wrote before that is the caller's to remove (it saw each path)."""
        for name, m in self.members:
            path, new = folder.save_stream(self._chunks(m), name)
            yield name, path, new

    def _chunks(self, m: zipfile.ZipInfo) -> Iterator[bytes]:
        # Declared sizes are not trusted: the ratio and total checks used them, so a member
        # that yields more than its header says is refused before that byte is kept.
        left = m.file_size
        try:
            with self.archive.open(m) as fh:
                while chunk := fh.read(min(CHUNK_BYTES, left + 1)):
                    left -= len(chunk)
                    if left < 0:
                        raise PayloadTooLargeError(
                            f"ZIP entry {m.filename!r} is larger than it declares.", entry=m.filename
                        )
                    yield chunk
        except _DAMAGED as e:
            if isinstance(e, OSError) and e.errno is not None:
                raise  # a real I/O error reading the spooled upload, not the archive's fault
            raise InvalidInputError(f"ZIP entry {m.filename!r} is damaged: {e}", entry=m.filename) from e


def plan_zip(data: bytes | BinaryIO, limits: ZipLimits) -> ZipPlan:
    """Check a ZIP before anything is decompressed, and say what it holds.

    Refused as a whole: too many entries, a declared uncompressed total over the limit, a
    path that escapes, or a compression ratio over `max_ratio`:1 (a ZIP bomb) for any member
    it would extract, whatever its size, or for those members together against the size of
    the whole archive. Entries that are not images (by name) or are symbolic links are
    skipped unread, so their ratio costs nothing and is not checked.
    """
    source: BinaryIO = io.BytesIO(data) if isinstance(data, bytes) else data
    size = source.seek(0, io.SEEK_END)
    declared = declared_entries(source, size)
    # zipfile reads every central-directory entry into memory (~0.5 KB each) before anything
    # can count them: refuse from the end record's count first. Folders are entries too, hence
    # the slack; the exact count of members is checked below.
    if declared is not None and declared > 2 * limits.max_entries:
        raise PayloadTooLargeError(
            f"the ZIP declares {declared} entries; the limit is {limits.max_entries} (ZIP_MAX_ENTRIES).",
            limit=limits.max_entries,
        )
    source.seek(0)
    try:
        archive = zipfile.ZipFile(source)
    except _DAMAGED as e:
        if isinstance(e, OSError) and e.errno is not None:
            raise
        raise UnsupportedMediaError(f"`archive` is not a ZIP file: {e}") from e
    try:
        plan = _plan(archive, size, limits)
    except BaseException:
        archive.close()
        raise
    return plan


_END = b"PK\x05\x06"  # end of central directory: 22 bytes + a comment of up to 64 KiB
_END64_LOCATOR = b"PK\x06\x07"  # ZIP64: 20 bytes just before it, pointing at the ZIP64 end record
_END64 = b"PK\x06\x06"


def declared_entries(source: BinaryIO, size: int) -> int | None:
    """The number of entries a ZIP's end record declares (ZIP64's when it has one), read from
    its last 64 KiB without parsing the central directory; None when there is no end record
    (zipfile then says what is wrong)."""
    tail_start = max(0, size - (22 + 0xFFFF))
    source.seek(tail_start)
    tail = source.read()
    at = tail.rfind(_END)
    if at < 0 or len(tail) - at < 22:
        return None
    entries = int.from_bytes(tail[at + 10 : at + 12], "little")
    locator = at - 20
    if entries == 0xFFFF and locator >= 0 and tail[locator : locator + 4] == _END64_LOCATOR:
        source.seek(int.from_bytes(tail[locator + 8 : locator + 16], "little"))
        record = source.read(56)
        if len(record) == 56 and record[:4] == _END64:
            entries = int.from_bytes(record[32:40], "little")
    return entries


def _plan(archive: zipfile.ZipFile, size: int, limits: ZipLimits) -> ZipPlan:
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
    plan = ZipPlan(archive, [])
    for m in members:
        name = _safe_member(m.filename)
        if stat.S_ISLNK(m.external_attr >> 16):
            plan.skipped.append({"path": m.filename, "reason": "symbolic link"})
            continue
        if PurePosixPath(name).suffix.lower() not in IMAGE_SUFFIXES:
            plan.skipped.append({"path": m.filename, "reason": "not an image file name"})
            continue
        # Refused before anything is written, rather than half-way through the archive.
        if m.flag_bits & 0x1:
            raise UnsupportedMediaError(f"ZIP entry {m.filename!r} is encrypted.", entry=m.filename)
        if m.compress_type not in _METHODS:
            raise UnsupportedMediaError(
                f"ZIP entry {m.filename!r} uses compression method {m.compress_type}; "
                "stored, deflate, bzip2 and LZMA are read.",
                entry=m.filename,
            )
        if m.file_size > limits.max_ratio * max(m.compress_size, 1):
            raise PayloadTooLargeError(
                f"ZIP entry {m.filename!r} is compressed {m.file_size / max(m.compress_size, 1):.0f}:1; "
                f"the limit is {limits.max_ratio:.0f}:1 (ZIP_MAX_RATIO).",
                entry=m.filename,
            )
        plan.members.append((name, m))
    # Against the archive's real size: members whose compressed data overlap (one stream
    # shared by many headers, each within the ratio) are caught here.
    unpacked = plan.unpacked
    if unpacked > limits.max_ratio * max(size, 1):
        raise PayloadTooLargeError(
            f"the ZIP unpacks {unpacked} bytes of images from {size} bytes, {unpacked / max(size, 1):.0f}:1; "
            f"the limit is {limits.max_ratio:.0f}:1 (ZIP_MAX_RATIO).",
        )
    return plan
