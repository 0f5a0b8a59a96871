"""Bulk imports as jobs: uploaded files, a ZIP, a server-side folder, or a list of URLs.

Every imported file is copied into a content-addressed folder under IMAGES_ROOT
(`imports/<library>/<sha256[:2]>/<sha256><ext>`), so it can be served like any library image
and the same bytes are stored once; then the ingestion pipeline embeds it. Point ids come
from content, so importing the same files again is a no-op. The job reports progress
(done/total) and lists each failure with its reason; a file it copied in that ends up in
no point (it failed, duplicated a stored image, or the job was cancelled) is removed again.

A folder import never follows symbolic links (each is listed as a failure), and with
`skipNearDuplicates` an item whose picture is within the threshold of one already in the
library is left out and listed with the id it duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import logging
import os
import re
import stat
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from app.config import Settings
from app.embedding import Encoders
from app.errors import (
    ClippyError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    PayloadTooLargeError,
    UnsupportedMediaError,
)
from app.ingest.pipeline import MAX_FILE_BYTES, IngestOptions, Ingestor
from app.ingest.sources import IMAGE_SUFFIXES, Item, scan_folder
from app.jobs import JobContext, JobHandlers, JobQueue
from app.storage.base import VectorStore
from app.storage.files import atomic_write
from app.storage.schema import content_sha256, point_id

JOB_KIND = "import"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportOptions:
    """What every import request says besides its images: where they go and how."""

    library: str
    tags: list[str]
    key: str | None = None  # Idempotency-Key: a retried request gets the first job
    owner: str | None = None  # the caller's owner (app/library/access.py)
    skip_near_duplicates: bool = False
    near_duplicate_threshold: float | None = None  # default: DUPLICATE_THRESHOLD


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


class ImportService:
    def __init__(
        self,
        ingest_options: Callable[..., IngestOptions],
        store: VectorStore,
        jobs: JobQueue,
        settings: Settings,
        encoders: Encoders,
    ) -> None:
        self.ingest_options = ingest_options  # the service's library root, bounds and cache
        self.settings = settings
        self.encoders = encoders
        self.store = store
        self.jobs = jobs

    def register_handlers(self, handlers: JobHandlers) -> None:
        handlers.register(JOB_KIND, self._run, on_abandon=self._abandon)

    def _check_runnable(self) -> None:
        # The worker processes of the Redis queue cannot open the API's embedded store.
        if self.jobs.durable and not self.settings.QDRANT_URL:
            raise ConflictError(
                "Imports write the library in the process that owns the embedded store; with REDIS_URL "
                "set, also set QDRANT_URL (a Qdrant server) so worker processes can write it.",
            )

    def _limits(self) -> ZipLimits:
        s = self.settings
        return ZipLimits(s.ZIP_MAX_ENTRIES, s.ZIP_MAX_TOTAL_BYTES, s.ZIP_MAX_RATIO)

    def _near(self, how: ImportOptions) -> float | None:
        """The near-duplicate threshold an import applies (None: keep near duplicates)."""
        if not how.skip_near_duplicates:
            return None
        value = (
            self.settings.DUPLICATE_THRESHOLD if how.near_duplicate_threshold is None else how.near_duplicate_threshold
        )
        if not 0.0 <= value <= 1.0:
            raise InvalidInputError(
                f"`nearDuplicateThreshold` must be between 0 and 1 but is {value}.", field="nearDuplicateThreshold"
            )
        return value

    async def _existing(self, how: ImportOptions) -> Any:
        """Checks every import makes before it stores anything; then the job an earlier
        request with the same key queued, if any."""
        check_library(how.library)
        self._check_runnable()
        self._near(how)
        return await self.jobs.find(how.key) if how.key is not None else None

    async def _queue(self, how: ImportOptions, params: dict[str, Any]) -> Any:
        params = {"library": how.library, "tags": how.tags, "near_duplicate_threshold": self._near(how), **params}
        return await self.jobs.submit(JOB_KIND, params, how.key, owner=how.owner)

    async def submit_files(self, how: ImportOptions, files: Sequence[tuple[str, bytes]]) -> Any:
        """Uploaded images and ZIPs: stored now (the bytes are in hand), embedded by the job."""
        if not files:
            raise InvalidInputError("send at least one file in `files`.")
        # A retried request must not stage its files again (the first job owns them).
        if (existing := await self._existing(how)) is not None:
            return existing
        # Every ZIP is read (and may be refused) before anything is written under IMAGES_ROOT.
        members: list[tuple[str, bytes]] = []
        skipped: list[dict[str, str]] = []
        for name, data in files:
            if name.lower().endswith(".zip"):
                found, skipped_here = await asyncio.to_thread(read_zip, data, self._limits())
                members += found
                skipped += skipped_here
            else:
                members.append((name, data))
        folder = ContentFolder(self.settings.IMAGES_ROOT, how.library)
        staged: list[dict[str, Any]] = []
        for n, body in members:
            path, new = folder.save(body, n)
            staged.append({"path": str(path), "name": n, "new": new})
        return await self._queue(how, {"files": staged, "skipped": skipped})

    async def submit_folder(self, how: ImportOptions, folder: str) -> Any:
        """A folder on the server, under one of IMPORT_ROOTS: copied in by the job."""
        path = Path(folder).expanduser().resolve()
        roots = [Path(r).resolve() for r in self.settings.IMPORT_ROOTS]
        if not any(path.is_relative_to(r) for r in roots):
            raise ForbiddenError(
                f"`folder` {folder!r} is not under an import root; allowed roots (IMPORT_ROOTS): "
                f"{[str(r) for r in roots] or 'none configured'}.",
            )
        if not path.is_dir():
            raise InvalidInputError(f"`folder` {folder!r} is not a folder.")
        if (existing := await self._existing(how)) is not None:
            return existing
        return await self._queue(how, {"folder": str(path)})

    async def submit_urls(self, how: ImportOptions, urls: list[str]) -> Any:
        """Remote images: fetched by the job, each through the checked, bounded fetcher."""
        if not urls:
            raise InvalidInputError("`urls` must list at least one URL.")
        if len(urls) > self.settings.IMPORT_MAX_URLS:
            raise PayloadTooLargeError(
                f"`urls` lists {len(urls)} URLs; the limit is {self.settings.IMPORT_MAX_URLS} (IMPORT_MAX_URLS).",
            )
        if (existing := await self._existing(how)) is not None:
            return existing
        return await self._queue(how, {"urls": urls})

    # --- the job ------------------------------------------------------------------------------
    async def _run(self, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        library = str(params["library"])
        folder = ContentFolder(self.settings.IMAGES_ROOT, library)
        # Files this job copied in; whichever ends up in no point is removed at the end.
        uploaded = _uploads(params)
        created: list[Path] = []  # copied in by this run, from the folder or the URLs
        try:
            return await self._ingest(params, ctx, library, folder, created)
        except asyncio.CancelledError:
            # Interrupted (a shutdown, a timeout): a re-delivered job needs its uploads again;
            # if none comes, the queue calls `_abandon`.
            uploaded = []
            raise
        finally:
            await self._release(library, uploaded + created)

    async def _abandon(self, params: dict[str, Any]) -> None:
        """The job ended for good without success: its uploads that got no point go."""
        await self._release(str(params["library"]), _uploads(params))

    async def _release(self, library: str, paths: list[Path]) -> None:
        removed = await asyncio.to_thread(self._remove_orphans, library, paths)
        if removed:
            log.info("import into %s: removed %d copied-in files that got no point", library, removed)

    async def _ingest(
        self, params: dict[str, Any], ctx: JobContext, library: str, folder: ContentFolder, created: list[Path]
    ) -> dict[str, Any]:
        from app.net.fetch import fetch_url

        tags = [str(t) for t in params.get("tags", [])]
        failures: list[dict[str, str]] = list(params.get("skipped", []))
        items = [Item(Path(f["path"]), list(tags), {"title": f["name"]}) for f in params.get("files", [])]
        if "folder" in params:
            # Copied in, so they are served from IMAGES_ROOT like every other library image.
            refused: list[tuple[Path, str]] = []
            found = await asyncio.to_thread(
                lambda: list(scan_folder(Path(params["folder"]), lambda p, why: refused.append((p, why))))
            )
            failures += [{"path": str(p), "reason": why} for p, why in refused]
            for i in found:
                ctx.check_cancelled()
                try:
                    saved, new = await asyncio.to_thread(folder.copy_in, i.path)
                except ClippyError as e:
                    failures.append({"path": str(i.path), "reason": e.message})
                    continue
                except OSError as e:
                    why = "a symbolic link (links are not followed)" if e.errno == errno.ELOOP else e.strerror
                    failures.append({"path": str(i.path), "reason": f"unreadable: {why or e}"})
                    continue
                if new:
                    created.append(saved)
                items.append(Item(saved, [*i.tags, *tags], {"title": i.path.name, "origin": str(i.path)}))
        urls = [str(u) for u in params.get("urls", [])]
        total = len(items) + len(urls)
        for n, url in enumerate(urls, start=1):
            ctx.check_cancelled()
            try:
                data = await fetch_url(
                    url,
                    max_bytes=self.settings.MAX_UPLOAD_BYTES,
                    timeout_s=self.settings.FETCH_TIMEOUT_S,
                    allow_private=self.settings.FETCH_ALLOW_PRIVATE,
                )
                saved, new = folder.save(data, PurePosixPath(url.split("?")[0]).name or "download")
                if new:
                    created.append(saved)
                items.append(Item(saved, list(tags), {"url": url}))
            except Exception as e:  # one bad URL never stops the import
                failures.append({"path": url, "reason": getattr(e, "message", None) or str(e)})
            ctx.report(n, total)
        done = len(urls)
        ctx.report(done, total)

        def progress(step: int) -> None:
            nonlocal done
            done += step
            ctx.report(min(done, total), total)

        near = params.get("near_duplicate_threshold")
        opts = self.ingest_options(
            library=library,
            source="import",
            should_stop=lambda: ctx.cancelled,
            owned=True,  # every item is a copy this service made under IMAGES_ROOT
            skip_near_duplicates=near is not None,
            **({"near_duplicate_threshold": float(near)} if near is not None else {}),
        )
        ingest = asyncio.ensure_future(
            asyncio.to_thread(Ingestor(self.encoders, self.store, opts).run, items, progress)
        )
        try:
            report = await asyncio.shield(ingest)
        except asyncio.CancelledError:
            # A cancelled await leaves the thread running: stop it at its next batch and wait,
            # so nothing writes a point after the orphan clean-up has looked.
            ctx.cancel()
            with contextlib.suppress(Exception):
                await ingest
            raise
        ctx.check_cancelled()
        # Name failures as the caller knows them (upload name, URL, source file), never by
        # where this server stores them.
        known_as = {str(i.path): i.extra.get("url") or i.extra.get("origin") or i.extra.get("title") for i in items}

        def shown(path: str) -> str:
            return str(known_as.get(path) or Path(path).name)

        failures += [{"path": shown(f.path), "reason": f.reason} for f in report.failures]
        return {
            "library": library,
            "total": total,
            "ingested": report.ingested,
            "skipped": report.skipped,
            "failed": failures,
            "ids": report.ids,
            "nearDuplicates": [
                {"path": shown(d.path), "duplicateOf": d.duplicate_of, "score": d.score} for d in report.near_duplicates
            ],
        }

    def _remove_orphans(self, library: str, created: list[Path]) -> int:
        """Delete the files of `created` that no point of `library` refers to. A point's id is
        its content in its library, so one retrieve answers for all of them."""
        if not created:
            return 0
        root = Path(self.settings.IMAGES_ROOT)
        ids = sorted({point_id(ContentFolder.sha256_of(p), library) for p in created})
        referenced: set[Path] = set()
        if self.store.exists():
            for point in self.store.retrieve(ids):
                if stored := point.payload.get("path"):
                    referenced.add((root / str(stored)).resolve())
        removed = 0
        for path in created:
            if path.resolve() not in referenced and path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _uploads(params: dict[str, Any]) -> list[Path]:
    """The files an import request stored for its job (not those it found already there)."""
    return [Path(f["path"]) for f in params.get("files", []) if f.get("new", True)]
