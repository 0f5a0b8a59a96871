"""Near-duplicate scans as jobs, and the duplicate report that shows the last one.

A near scan asks the engine for every item's nearest neighbours (app/library/duplicates.py):
work that grows with the library, so it runs as a `duplicates` job (202 + progress) and
`GET /images/duplicates` answers at once with the exact groups (same sha256: a payload
scroll, no vectors) and the near groups of the caller's last scan, marked stale once the
library changed (the change counter moved, or the item count differs) and pruned of items
that are gone.

With random image weights an image cosine says nothing about what a picture shows (the
demo's near groups held dozens of unrelated pictures at ≥ 0.95), so near scans are refused
with the reason unless NEAR_DUPLICATES_WITH_RANDOM_WEIGHTS is set, as the search defaults
give such a view no weight (app/search/defaults.py).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any

from app.config import Settings
from app.errors import ConflictError, NotFoundError
from app.jobs import Job, JobContext, JobHandlers, JobQueue
from app.library.access import LibraryScope
from app.library.changes import LibraryChanges
from app.library.duplicates import Item, duplicate_report, exact_groups
from app.library.models import (
    DuplicateGroup,
    DuplicateReport,
    DuplicateScanRequest,
    DuplicateScanResult,
    NearScan,
)
from app.storage.base import VectorStore
from app.storage.paging import iter_points, scope_filter
from app.storage.schema import tenant_filter
from app.storage.types import Filter

JOB_KIND = "duplicates"
# Last scans remembered, one per (owner, library) asked; the oldest is forgotten past this.
MAX_REMEMBERED = 1024

RANDOM_WEIGHTS_REASON = (
    "The image model has random weights (PRETRAINED=random): image similarity says nothing about "
    "what the pictures show, so near-duplicate scans are off. Exact copies (same file content) are "
    "still listed. Load real weights (`clippy models pull`) to scan for near duplicates."
)


def _filter(readable: list[str] | None, library: str | None) -> Filter | None:
    scope = tenant_filter(*readable) if readable is not None else None
    return scope.and_(scope_filter(library)) if scope else scope_filter(library)


def _pruned(groups: list[DuplicateGroup], present: set[str]) -> list[DuplicateGroup]:
    """Groups without the members that left the library; a group left with one member is none."""
    out = []
    for g in groups:
        members = [m for m in g.members if m.id in present]
        if len(members) < 2:
            continue
        keep = g.keep if g.keep in present else members[0].id
        out.append(g.model_copy(update={"members": members, "keep": keep}))
    return out


class DuplicateScans:
    def __init__(
        self,
        store: VectorStore,
        jobs: JobQueue,
        settings: Settings,
        changes: LibraryChanges,
        *,
        random_weights: bool,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.settings = settings
        self.changes = changes
        self.random_weights = random_weights
        self._last: OrderedDict[tuple[str | None, str | None], str] = OrderedDict()

    def register_handlers(self, handlers: JobHandlers) -> None:
        handlers.register(JOB_KIND, self._run)

    @property
    def near_off_reason(self) -> str | None:
        if self.random_weights and not self.settings.NEAR_DUPLICATES_WITH_RANDOM_WEIGHTS:
            return RANDOM_WEIGHTS_REASON
        return None

    async def submit(self, scope: LibraryScope, request: DuplicateScanRequest) -> Job:
        if (reason := self.near_off_reason) is not None:
            raise ConflictError(reason, setting="PRETRAINED")
        # The worker processes of the Redis queue cannot open the API's embedded store.
        if self.jobs.durable and not self.settings.QDRANT_URL:
            raise ConflictError(
                "Duplicate scans read the library in the process that owns the embedded store; with "
                "REDIS_URL set, also set QDRANT_URL (a Qdrant server) so worker processes can read it.",
            )
        if request.library is not None:
            scope.check_library_visible(request.library)
        params: dict[str, Any] = {
            "library": request.library,
            "threshold": self.settings.DUPLICATE_THRESHOLD if request.threshold is None else request.threshold,
            "neighbours": request.neighbours,
            "readable": sorted(scope.readable) if scope.readable is not None else None,
            "version": self.changes.version,
        }
        job = await self.jobs.submit(JOB_KIND, params, owner=scope.principal.owner)
        key = (scope.principal.owner, request.library)
        self._last[key] = job.id
        self._last.move_to_end(key)
        while len(self._last) > MAX_REMEMBERED:
            self._last.popitem(last=False)
        return job

    async def _run(self, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        library = params.get("library")
        readable = params.get("readable")
        flt = _filter(readable, library)
        total = await asyncio.to_thread(lambda: self.store.count(flt) if self.store.exists() else 0)
        ctx.report(0, total)
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            done += n
            ctx.report(min(done, total), total)
            ctx.check_cancelled()

        started = time.perf_counter()
        report = await asyncio.to_thread(
            duplicate_report,
            self.store,
            float(params["threshold"]),
            library=library,
            neighbours=int(params["neighbours"]),
            hnsw_ef=self.settings.HNSW_EF,
            progress=progress,
            scope=tenant_filter(*readable) if readable is not None else None,
            batch=self.settings.DUPLICATE_SCAN_BATCH,
        )
        result = DuplicateScanResult(
            **report.model_dump(),
            library_version=int(params["version"]),
            seconds=round(time.perf_counter() - started, 3),
        )
        return result.model_dump(by_alias=True, mode="json")

    # --- the report ---------------------------------------------------------------------------
    async def report(self, scope: LibraryScope, library: str | None) -> DuplicateReport:
        """Exact groups now; near groups from the caller's last scan of `library`."""
        if library is not None:
            scope.check_library_visible(library)
        flt = _filter(sorted(scope.readable) if scope.readable is not None else None, library)
        items = await asyncio.to_thread(self._items, flt)
        near_scan, near, threshold = await self._near_scan(scope, library, len(items))
        if near is not None:
            near = _pruned(near, {it.id for it in items})
        return DuplicateReport(
            library=library,
            threshold=threshold,
            scanned=len(items),
            exact=exact_groups(items),
            near=near or [],
            near_scan=near_scan,
        )

    def _items(self, flt: Filter | None) -> list[Item]:
        if not self.store.exists():
            return []
        return [Item.of(pid, payload) for pid, payload, _ in iter_points(self.store, flt)]

    async def _near_scan(
        self, scope: LibraryScope, library: str | None, count: int
    ) -> tuple[NearScan, list[DuplicateGroup] | None, float]:
        threshold = self.settings.DUPLICATE_THRESHOLD
        if (reason := self.near_off_reason) is not None:
            return NearScan(state="off", reason=reason), None, threshold
        job_id = self._last.get((scope.principal.owner, library))
        if job_id is None:
            return NearScan(state="none"), None, threshold
        try:
            job = await self.jobs.get(job_id)
        except NotFoundError:  # expired from the queue (JOB_TTL): as if never scanned
            return NearScan(state="none"), None, threshold
        if job.status != "succeeded" or job.result is None:
            reason = job.error.message if job.error is not None else None
            return NearScan(state=job.status, job_id=job.id, reason=reason), None, threshold
        result = DuplicateScanResult.model_validate(job.result)
        stale = result.library_version != self.changes.version or result.scanned != count
        return (
            NearScan(
                state="succeeded",
                job_id=job.id,
                stale=stale,
                reason="The library changed since this scan; scan again." if stale else None,
                threshold=result.threshold,
                scanned_at=job.updated_at,
            ),
            result.near,
            result.threshold,
        )
