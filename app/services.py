"""The composition root: everything a running service holds, built once and typed.

`Services.open` wires the parts (store, encoders, searchers, libraries, imports,
generation, jobs); it holds no business logic. Every field is set: a part a process runs
without is an explicit object that refuses with the setting to change (`LibraryUnavailable`,
`UnavailableJobQueue`), never None. Routers get each part through one dependency in
app/api/deps.py.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from app.availability import Availability, check_availability
from app.config import Settings
from app.embedding import Encoders, load_encoders
from app.embedding.cache import EmbeddingCache
from app.errors import ModelMismatchError
from app.generation.base import ImageProvider
from app.generation.describe import Describer
from app.generation.library import NO_LIBRARY, AddToLibrary, LibraryUnavailable, ResolveLibraryImage
from app.generation.service import GenerationService, build_generation_service
from app.imaging import ImageSlots
from app.ingest.folder_scan import FolderScan
from app.ingest.seed import seed_sample_library
from app.ingest.target import IngestTarget
from app.jobs import JobHandlers, JobQueue, UnavailableJobQueue, build_job_queue
from app.library.changes import LibraryChanges
from app.library.dedup_scans import DuplicateScans
from app.library.generated import GeneratedToLibrary
from app.library.imports import ImportService
from app.library.imports.captions import AutoCaptioner, CaptionSource, DescribeSource, StorySource
from app.library.manage import Libraries
from app.library.profiles import ProfileStore
from app.library.registry import LibraryRegistry
from app.library.trash import Trash
from app.search.batching import BatchSettings
from app.search.complementary import ComplementarySearcher
from app.search.encoder import CollectionShape, QueryEncoder
from app.search.hybrid import HybridSearcher
from app.storage import VectorStore, open_store
from app.storage.schema import CollectionSchema
from app.storage.thumbs import ThumbnailCache
from app.stories.index import StoryIndex
from app.stories.service import StoryService
from app.stories.storyboard import StoryboardService
from app.telemetry import Stages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddingSpace:
    """Whether the collection holds this service's embedding space, checked once at open.

    The one place a mismatch lives: the searcher dependencies refuse with it (409) instead
    of returning meaningless neighbours, /info and /readyz report it, AUTO_INGEST skips."""

    problem: ModelMismatchError | None = None

    @property
    def usable(self) -> bool:
        return self.problem is None

    def check(self) -> None:
        if self.problem is not None:
            raise self.problem

    @classmethod
    def of(cls, store: VectorStore, encoders: Encoders) -> EmbeddingSpace:
        schema = CollectionSchema(encoders.clip.dim, encoders.text.dim, encoders.space())
        try:
            store.ensure(schema, writing=False)
        except ModelMismatchError as e:
            log.error("%s", e.message)
            return cls(e)
        return cls()


def build_generation_and_jobs(
    settings: Settings,
    *,
    resolve_library_image: ResolveLibraryImage = NO_LIBRARY,
    add_to_library: AddToLibrary = NO_LIBRARY,
    providers: dict[str, ImageProvider] | None = None,
    describer: Describer | None = None,
    handlers: JobHandlers | None = None,
) -> tuple[GenerationService, JobQueue]:
    """Generation and the job queue for the API process (handlers registered, nothing
    started yet). Pass `handlers` to register other job kinds (bulk imports) on the same queue."""
    handlers = handlers if handlers is not None else JobHandlers()
    jobs = build_job_queue(settings, handlers)
    generation = build_generation_service(
        settings,
        jobs,
        resolve_library_image=resolve_library_image,
        add_to_library=add_to_library,
        providers=providers,
        describer=describer,
    )
    generation.register_handlers(handlers)
    return generation, jobs


async def sweep_staged_imports(imports: ImportService, trash: Trash | None = None) -> None:
    """Staged import files no point refers to (app/library/imports/orphans.py), but for the
    files of items in the trash; a sweep that fails is logged and never keeps a process from
    starting."""
    try:
        keep = await asyncio.to_thread(trash.files) if trash is not None else set()
        await asyncio.to_thread(imports.sweep_staged, keep)
    except Exception:
        log.exception("sweeping staged import files failed; they stay until the next start")


async def purge_trash_forever(trash: Trash) -> None:
    """Purge expired trash every min(TTL, 10 min); a failed round is logged and retried."""
    if trash.ttl_s <= 0:
        return
    interval = max(1.0, min(trash.ttl_s, 600.0))
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(trash.purge_expired)
        except Exception:
            log.exception("purging the trash failed; retried in %.0f s", interval)


@dataclass
class Services:
    settings: Settings
    encoders: Encoders
    store: VectorStore
    space: EmbeddingSpace
    searcher: HybridSearcher
    complementary: ComplementarySearcher
    thumbs: ThumbnailCache
    ingest: IngestTarget
    # Library records (owner, visibility), what each caller may touch, and image files.
    libraries: Libraries
    imports: ImportService
    generation: GenerationService
    jobs: JobQueue
    # Image → story jobs and the story index (app/stories).
    stories: StoryService
    # Story → storyboard jobs, each frame grounded on retrieved earlier frames (app/stories).
    storyboards: StoryboardService
    # Requests decoding and encoding images at once (IMAGE_SLOTS); the rest wait, then 503.
    image_slots: ImageSlots
    # Deleted items, restorable for TRASH_TTL_S; near-duplicate scans (jobs) and their reports.
    trash: Trash
    duplicates: DuplicateScans
    # Every job kind this service runs; `python -m app.jobs.worker` runs the same ones.
    handlers: JobHandlers = field(default_factory=JobHandlers)
    # Generation job stage timings; the API's metrics subscribe (app/telemetry.py).
    stages: Stages = field(default_factory=Stages)
    # AUTO_INGEST of an IMAGES_ROOT without a manifest (app/ingest/folder_scan.py).
    folder_scan: FolderScan = field(init=False)
    ready: bool = False
    # What the models and credentials allow (app/availability.py): found once, at start.
    _availability: Availability | None = field(default=None, repr=False)
    _purger: asyncio.Task[None] | None = field(default=None, repr=False)

    def availability(self) -> Availability:
        """The availability report, checked on first use and kept (blocking: ≤ a few seconds)."""
        if self._availability is None:
            report = check_availability(self.settings)
            for piece in report.pieces:
                if piece.needed and not piece.available:
                    log.warning("%s unavailable (%s): %s", piece.title, piece.setting, piece.reason)
            self._availability = report
        return self._availability

    def __post_init__(self) -> None:
        self.folder_scan = FolderScan(self.ingest, self.libraries.registry)

    @classmethod
    def open(
        cls,
        settings: Settings,
        encoders: Encoders | None = None,
        store: VectorStore | None = None,
        providers: dict[str, ImageProvider] | None = None,
    ) -> Services:
        """`providers` replaces generation providers by name (the rest are built from settings)."""
        encoders = encoders or load_encoders(settings)
        store = store or open_store(settings)
        space = EmbeddingSpace.of(store, encoders)
        thumbs = ThumbnailCache(settings.THUMBS_ROOT, settings.THUMB_SIZE)
        cache = EmbeddingCache(Path(settings.EMBED_CACHE_PATH), encoders.space()) if settings.EMBED_CACHE_PATH else None
        ingest = IngestTarget(settings, encoders, store, cache)
        libraries = Libraries(
            LibraryRegistry.from_settings(settings),
            store,
            thumbs,
            Path(settings.IMAGES_ROOT),
            ProfileStore.from_settings(settings),
        )
        handlers = JobHandlers()
        generation, jobs = build_generation_and_jobs(
            settings,
            handlers=handlers,
            resolve_library_image=libraries.image_path,
            add_to_library=GeneratedToLibrary(ingest),
            providers=providers,
        )
        # Captions for untagged imports from a model another part already keeps warm.
        source: CaptionSource = (
            StorySource(settings, lambda: stories.provider)
            if settings.AUTO_CAPTION_SOURCE == "story"
            else DescribeSource(settings, lambda: generation.describer)
        )
        captioner = AutoCaptioner(settings, source)
        imports = ImportService(ingest.options, store, jobs, settings, encoders, captioner)
        imports.register_handlers(handlers)
        stages = Stages()
        stories = StoryService(
            settings,
            jobs,
            index=StoryIndex(settings, encoders, store),
            resolve_library_image=libraries.image_path,
            observe=stages,
        )
        stories.register_handlers(handlers)
        storyboards = StoryboardService(
            settings,
            jobs,
            generation.providers,
            encoders,
            store=store,
            index=stories.index,
            resolve_library_image=libraries.image_path,
            add_to_library=generation.add_to_library,
            observe=stages,
        )
        storyboards.register_handlers(handlers)
        changes = LibraryChanges()
        duplicates = DuplicateScans(store, jobs, settings, changes, random_weights=encoders.clip.random_weights)
        duplicates.register_handlers(handlers)
        # One query encoder for every searcher: a query is encoded the same way wherever it goes.
        # Concurrent requests share one forward per tower (ENCODE_BATCHING).
        query_encoder = QueryEncoder(encoders, CollectionShape(store), BatchSettings.from_settings(settings))
        return cls(
            settings=settings,
            encoders=encoders,
            store=store,
            space=space,
            searcher=HybridSearcher(encoders, store, settings, encoder=query_encoder),
            complementary=ComplementarySearcher(encoders, store, settings, encoder=query_encoder),
            thumbs=thumbs,
            ingest=ingest,
            libraries=libraries,
            imports=imports,
            generation=generation,
            jobs=jobs,
            stories=stories,
            storyboards=storyboards,
            image_slots=ImageSlots(settings.IMAGE_SLOTS, settings.IMAGE_SLOT_WAIT_S),
            trash=Trash.from_settings(settings, store, thumbs, changes, libraries.profiles.forget_images),
            duplicates=duplicates,
            handlers=handlers,
            stages=stages,
        )

    async def start(self) -> None:
        # Moves to the trash a kill cut off are finished and expired items purged (then every
        # few minutes), before the sweep, which keeps the files of what stays in the trash.
        try:
            await asyncio.to_thread(self.trash.recover)
        except Exception:
            log.exception("recovering the trash failed; pending moves are finished at the next start")
        # Known at start: /info reports it and the log names what is missing.
        await asyncio.to_thread(self.availability)
        # Before the queue runs: what a killed import staged and never embedded.
        await sweep_staged_imports(self.imports, self.trash)
        self._purger = asyncio.create_task(purge_trash_forever(self.trash))
        await self.generation.start()
        await self.jobs.start()
        if self.settings.AUTO_INGEST and self.space.usable:
            # A manifest wins (seeded before ready, as always); a bare folder is scanned in the
            # background, so a large one does not hold the server's start.
            if (Path(self.settings.IMAGES_ROOT) / "manifest.jsonl").is_file():
                await asyncio.to_thread(seed_sample_library, self.ingest, self.libraries.registry)
            elif Path(self.settings.IMAGES_ROOT).is_dir():
                self.folder_scan.start()
        self.ready = True

    async def stop(self, close_store: bool = True) -> None:
        # Jobs first: the in-process queue drains (JOB_DRAIN_S) and waits for its handler
        # threads, so no import or addToLibrary thread still writes when the store closes.
        self.ready = False
        await self.folder_scan.stop()  # before the store closes: it writes to it
        if self._purger is not None:
            self._purger.cancel()
            self._purger = None
        await self.jobs.stop()
        await self.generation.stop()
        await self.stories.stop()
        await asyncio.to_thread(self.searcher.encoder.close)  # after the requests it has queued
        self.close_storage(close_store)

    def close_storage(self, close_store: bool = True) -> None:
        """The embedding cache, and the store unless the caller keeps it open."""
        if self.ingest.cache is not None:
            self.ingest.cache.close()
        if close_store:
            self.store.close()


@dataclass
class WorkerServices:
    """What `python -m app.jobs.worker` runs jobs with: the API's handlers, built by the same
    `Services.open`, when the library store can be opened by a second process (QDRANT_URL, or
    a store handed in). Otherwise only `generate` (without `addToLibrary`) and `story` (without the story index): the embedded store
    belongs to the API process, and the API refuses such jobs at submit time."""

    handlers: JobHandlers
    generation: GenerationService
    stories: StoryService
    library: Services | None = None

    @classmethod
    def open(
        cls, settings: Settings, encoders: Encoders | None = None, store: VectorStore | None = None
    ) -> WorkerServices:
        if settings.QDRANT_URL or store is not None:
            services = Services.open(settings, encoders=encoders, store=store)
            return cls(services.handlers, services.generation, services.stories, services)
        log.warning(
            "job worker without QDRANT_URL: it runs `generate` jobs only (no `import`, no `addToLibrary`); "
            "the embedded store at QDRANT_PATH belongs to the API process"
        )
        handlers = JobHandlers()
        no_library = LibraryUnavailable(
            "a job worker without QDRANT_URL cannot open the embedded store, which belongs to the API process."
        )
        generation = build_generation_service(
            settings,
            UnavailableJobQueue("a job worker runs jobs; the API process queues them."),
            resolve_library_image=no_library,
            add_to_library=no_library,
        )
        generation.register_handlers(handlers)
        # Stories without the story index (it lives beside the library's store): the story is
        # told and returned, not filed (`storyId` null).
        queue = UnavailableJobQueue("a job worker runs jobs; the API process queues them.")
        stories = StoryService(settings, queue)
        stories.register_handlers(handlers)
        # Storyboards retrieve only within themselves here: no library to search or add to.
        StoryboardService(settings, queue, generation.providers, None).register_handlers(handlers)
        return cls(handlers, generation, stories)

    async def start(self) -> None:
        # A worker killed mid-import restarts here: its staged files are swept too (after the grace).
        if self.library is not None:
            await sweep_staged_imports(self.library.imports, self.library.trash)
        await self.generation.start()

    async def stop(self, close_store: bool = True) -> None:
        await self.generation.stop()
        await self.stories.stop()
        if self.library is not None:
            self.library.close_storage(close_store)
