"""The import service: requests are checked and their files staged, then a job copies in,
fetches and embeds; whatever it copied in that got no point is removed again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import anyio

from app.config import Settings
from app.embedding import Encoders
from app.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError, PayloadTooLargeError
from app.ingest.pipeline import IngestOptions, Ingestor, IngestReport
from app.ingest.sources import Item
from app.jobs import IdempotencyKey, JobContext, JobHandlers, JobQueue
from app.library.imports.captions import AutoCaptioner, CaptionReport
from app.library.imports.folder import copy_folder
from app.library.imports.orphans import sweep_copies, sweep_staged, unreferenced
from app.library.imports.report import import_result
from app.library.imports.staging import ContentFolder, check_library
from app.library.imports.urls import fetch_urls
from app.library.imports.zips import ZipLimits, ZipPlan, plan_zip
from app.storage.base import VectorStore

JOB_KIND = "import"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportOptions:
    """What every import request says besides its images: where they go and how."""

    library: str
    tags: list[str]
    key: IdempotencyKey | None = None  # Idempotency-Key: a retried request gets the first job
    owner: str | None = None  # the caller's owner (app/library/access.py)
    skip_near_duplicates: bool = False
    near_duplicate_threshold: float | None = None  # default: DUPLICATE_THRESHOLD


class ImportService:
    def __init__(
        self,
        ingest_options: Callable[..., IngestOptions],
        store: VectorStore,
        jobs: JobQueue,
        settings: Settings,
        encoders: Encoders,
        captioner: AutoCaptioner | None = None,
    ) -> None:
        self.ingest_options = ingest_options  # the service's library root, bounds and cache
        self.captioner = captioner  # AUTO_CAPTION: captions for untagged items
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

    async def submit_files(self, how: ImportOptions, files: Sequence[tuple[str, bytes | BinaryIO]]) -> Any:
        """Uploaded images and ZIPs (bytes, or a ZIP as a seekable file): stored now, embedded
        by the job."""
        if not files:
            raise InvalidInputError("send at least one file in `files`.")
        # A retried request must not stage its files again (the first job owns them).
        if (existing := await self._existing(how)) is not None:
            return existing
        # Every ZIP is checked (and may be refused) before anything is written under IMAGES_ROOT.
        entries: list[tuple[str, bytes] | ZipPlan] = []
        try:
            for name, data in files:
                if name.lower().endswith(".zip"):
                    entries.append(await asyncio.to_thread(plan_zip, data, self._limits()))
                else:
                    entries.append((name, data if isinstance(data, bytes) else data.read()))
            # Each ZIP is within the limit; so are they together (a request may send many).
            unpacked = sum(e.unpacked for e in entries if isinstance(e, ZipPlan))
            if unpacked > self.settings.ZIP_MAX_TOTAL_BYTES:
                raise PayloadTooLargeError(
                    f"the ZIPs of this request unpack to {unpacked} bytes; the limit is "
                    f"{self.settings.ZIP_MAX_TOTAL_BYTES} (ZIP_MAX_TOTAL_BYTES).",
                    limit=self.settings.ZIP_MAX_TOTAL_BYTES,
                )
            folder = ContentFolder(self.settings.IMAGES_ROOT, how.library)
            staged = await asyncio.to_thread(_stage, folder, entries)
        finally:
            for entry in entries:
                if isinstance(entry, ZipPlan):
                    entry.close()
        skipped = [s for entry in entries if isinstance(entry, ZipPlan) for s in entry.skipped]
        return await self._queue(how, {"files": staged, "skipped": skipped})

    def _under_import_root(self, value: str, field: str) -> Path:
        """`value` as a resolved path under one of IMPORT_ROOTS (403 otherwise)."""
        # No OS path holds a NUL byte, and `~user` must name a user: either is the caller's error.
        if "\0" in value:
            raise InvalidInputError(f"`{field}` {value!r} holds a NUL byte.", field=field)
        try:
            path = Path(value).expanduser().resolve()
        except RuntimeError as e:  # expanduser: "Could not determine home directory"
            raise InvalidInputError(f"`{field}` {value!r}: {e}", field=field) from e
        roots = [Path(r).resolve() for r in self.settings.IMPORT_ROOTS]
        if not any(path.is_relative_to(r) for r in roots):
            raise ForbiddenError(
                f"`{field}` {value!r} is not under an import root; allowed roots (IMPORT_ROOTS): "
                f"{[str(r) for r in roots] or 'none configured'}.",
            )
        return path

    async def submit_folder(self, how: ImportOptions, folder: str) -> Any:
        """A folder on the server, under one of IMPORT_ROOTS: copied in by the job."""
        path = self._under_import_root(folder, "folder")
        try:
            is_dir = path.is_dir()
        except OSError as e:  # e.g. a name too long for the file system
            raise InvalidInputError(f"`folder` {folder!r} cannot be read: {e.strerror}.", field="folder") from e
        if not is_dir:
            raise InvalidInputError(f"`folder` {folder!r} is not a folder.")
        if (existing := await self._existing(how)) is not None:
            return existing
        return await self._queue(how, {"folder": str(path)})

    async def submit_file(self, how: ImportOptions, file: str, field: str = "file") -> Any:
        """One picture on the server, under one of IMPORT_ROOTS: read now, imported as an upload."""
        path = self._under_import_root(file, field)
        try:
            if not path.is_file():
                raise NotFoundError(f"`{field}` {file!r} is not a file.", field=field)
            if path.stat().st_size > self.settings.MAX_UPLOAD_BYTES:
                raise PayloadTooLargeError(
                    f"`{field}` {file!r} is larger than {self.settings.MAX_UPLOAD_BYTES} bytes (MAX_UPLOAD_BYTES).",
                    field=field,
                    limit=self.settings.MAX_UPLOAD_BYTES,
                )
            data = await anyio.to_thread.run_sync(path.read_bytes)
        except OSError as e:
            raise InvalidInputError(f"`{field}` {file!r} cannot be read: {e.strerror}.", field=field) from e
        return await self.submit_files(how, [(path.name, data)])

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
        tags = [str(t) for t in params.get("tags", [])]
        failures: list[dict[str, str]] = list(params.get("skipped", []))
        items = [Item(Path(f["path"]), list(tags), {"title": f["name"]}) for f in params.get("files", [])]
        if "folder" in params:
            found, refused = await copy_folder(Path(params["folder"]), folder, tags, ctx, created)
            items += found
            failures += refused
        urls = [str(u) for u in params.get("urls", [])]
        total = len(items) + len(urls)
        fetched, unfetched = await fetch_urls(
            urls, folder, tags, self.settings, ctx, created, lambda n: ctx.report(n, total)
        )
        items += fetched
        failures += unfetched
        done = len(urls)
        ctx.report(done, total)

        def progress(step: int) -> None:
            nonlocal done
            done += step
            ctx.report(min(done, total), total)

        captions = CaptionReport()
        if self.captioner is not None:
            items, captions = await asyncio.to_thread(
                self.captioner.apply, items, library, self.store, lambda: ctx.cancelled
            )
            ctx.check_cancelled()
        report = await self._embed(params, ctx, library, items, progress)
        return import_result(library, total, items, report, failures, captions)

    async def _embed(
        self, params: dict[str, Any], ctx: JobContext, library: str, items: list[Item], progress: Callable[[int], None]
    ) -> IngestReport:
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
        return report

    def _remove_orphans(self, library: str, created: list[Path]) -> int:
        """Delete the files of `created` that no point refers to."""
        orphans = unreferenced(self.store, Path(self.settings.IMAGES_ROOT), library, created)
        removed = 0
        for path in orphans:
            if path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def sweep_staged(self, keep: Collection[Path] = ()) -> int:
        """Staged files that no point refers to, left by a killed import, and the copies a
        killed `addToLibrary` left under IMAGES_ROOT/generated/, untouched for
        IMPORT_ORPHAN_GRACE_S (a running import or generation elsewhere keeps its own);
        never those in `keep` (the files of items in the trash)."""
        root, grace = Path(self.settings.IMAGES_ROOT), self.settings.IMPORT_ORPHAN_GRACE_S
        return sweep_staged(self.store, root, grace_s=grace, keep=keep) + sweep_copies(
            self.store, root, grace_s=grace, keep=keep
        )


def _uploads(params: dict[str, Any]) -> list[Path]:
    """The files an import request stored for its job (not those it found already there)."""
    return [Path(f["path"]) for f in params.get("files", []) if f.get("new", True)]


def _stage(folder: ContentFolder, entries: list[tuple[str, bytes] | ZipPlan]) -> list[dict[str, Any]]:
    """Write a request's uploads and ZIP members into `folder`, in the order sent. If one is
    refused mid-way (a member larger than it declares), the files this call wrote go again:
    a refused request leaves nothing behind."""
    staged: list[dict[str, Any]] = []
    try:
        for entry in entries:
            saved = (
                entry.extract(folder) if isinstance(entry, ZipPlan) else [(entry[0], *folder.save(entry[1], entry[0]))]
            )
            for name, path, new in saved:
                staged.append({"path": str(path), "name": name, "new": new})
    except BaseException:
        for f in staged:
            if f["new"]:
                Path(f["path"]).unlink(missing_ok=True)
        raise
    return staged
