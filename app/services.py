"""Everything a running service holds, opened once in the app's lifespan."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.config import Settings
from app.embedding import Encoders, load_encoders
from app.embedding.cache import EmbeddingCache
from app.errors import ClippyError, ModelMismatchError, NotFoundError
from app.generation.service import GenerationService, build_generation_and_jobs, build_generation_service
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import Item, read_manifest
from app.jobs import JobHandlers, JobQueue
from app.library.access import LibraryScope
from app.library.imports import ImportService
from app.library.manage import Libraries
from app.library.registry import LibraryRegistry
from app.search.hybrid import HybridSearcher
from app.storage import VectorStore, open_store
from app.storage.files import safe_join
from app.storage.schema import CollectionSchema, content_sha256, point_id
from app.storage.thumbs import ThumbnailCache

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    encoders: Encoders
    store: VectorStore
    searcher: HybridSearcher
    thumbs: ThumbnailCache
    ready: bool = False
    # generation + jobs (app/generation, app/jobs): built in `open`, started in `start`.
    generation: GenerationService | None = None
    jobs: JobQueue | None = None
    imports: ImportService | None = None
    cache: EmbeddingCache | None = None
    # Library records (owner, visibility) and what each caller may touch (app/library/).
    libraries: Libraries | None = None
    # Every job kind this service runs; `python -m app.jobs.worker` runs the same ones.
    handlers: JobHandlers = field(default_factory=JobHandlers)

    @classmethod
    def open(cls, settings: Settings, encoders: Encoders | None = None, store: VectorStore | None = None) -> Services:
        encoders = encoders or load_encoders(settings)
        store = store or open_store(settings)
        searcher = HybridSearcher(encoders, store, settings)
        schema = CollectionSchema(encoders.clip.dim, encoders.text.dim, encoders.space())
        try:
            store.ensure(schema, writing=False)
        except ModelMismatchError as e:
            log.error("%s", e.message)
            searcher.unusable = e
        services = cls(settings, encoders, store, searcher, ThumbnailCache(settings.THUMBS_ROOT, settings.THUMB_SIZE))
        handlers = services.handlers
        services.generation, services.jobs = build_generation_and_jobs(
            settings,
            handlers=handlers,
            resolve_library_image=services.resolve_library_image,
            add_to_library=services.add_generated_to_library,
        )
        if settings.EMBED_CACHE_PATH is not None:
            services.cache = EmbeddingCache(Path(settings.EMBED_CACHE_PATH), encoders.space())
        services.libraries = Libraries(
            LibraryRegistry.from_settings(settings), store, services.thumbs, Path(settings.IMAGES_ROOT)
        )
        services.imports = ImportService(services.ingest_options, store, services.jobs, settings, encoders)
        services.imports.register_handlers(handlers)
        return services

    async def start(self) -> None:
        if self.generation is not None:
            await self.generation.start()
        if self.jobs is not None:
            await self.jobs.start()
        if self.settings.AUTO_INGEST and self.searcher.unusable is None:
            await asyncio.to_thread(self.ingest_sample_library)
        self.ready = True

    async def stop(self, close_store: bool = True) -> None:
        # Jobs first: the in-process queue drains (JOB_DRAIN_S) and waits for its handler
        # threads, so no import or addToLibrary thread still writes when the store closes.
        self.ready = False
        if self.jobs is not None:
            await self.jobs.stop()
        if self.generation is not None:
            await self.generation.stop()
        self.close_storage(close_store)

    def close_storage(self, close_store: bool = True) -> None:
        """The embedding cache, and the store unless the caller keeps it open."""
        if self.cache is not None:
            self.cache.close()
        if close_store:
            self.store.close()

    def resolve_library_image(self, image_id: str, scope: LibraryScope | None = None) -> Path:
        """The file of a library image (generation refs by `id`, /image, /thumb); NotFoundError
        otherwise, also for an image outside the caller's `scope` (ids do not leak)."""
        try:
            image_id = str(uuid.UUID(image_id))
        except ValueError:
            raise NotFoundError(f"no library image with id {image_id!r}.", id=image_id) from None
        found = self.store.retrieve([image_id])
        if not found:
            raise NotFoundError(f"no library image with id {image_id!r}.", id=image_id)
        if scope is not None:
            scope.check_read(found[0].payload, image_id)
        return safe_join(Path(self.settings.IMAGES_ROOT), str(found[0].payload.get("path", "")))

    def add_generated_to_library(self, path: Path, tags: list[str], source: str, library: str | None = None) -> str:
        """`addToLibrary`: copy a generated image under IMAGES_ROOT/generated/ and embed it into
        `library` (checked at submit; None: DEFAULT_LIBRARY), with its prompt (from the sidecar)
        as the caption, so search finds it by text. The copy is the library's own (`owned`)."""
        root = Path(self.settings.IMAGES_ROOT)
        dest = root / "generated" / path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        sidecar_path = path.with_suffix(".json")
        sidecar = json.loads(sidecar_path.read_text()) if sidecar_path.is_file() else {}
        extra = {
            "caption": sidecar.get("prompt") or None,
            "generated": {k: sidecar.get(k) for k in ("jobId", "provider", "model", "seed")},
        }
        opts = self.ingest_options(source=source, owned=True, **({"library": library} if library else {}))
        report = Ingestor(self.encoders, self.store, opts).run([Item(dest, tags, extra)])
        if report.failures:
            raise ClippyError(f"could not add {path.name} to the library: {report.failures[0].reason}")
        return point_id(content_sha256(dest.read_bytes()), opts.library)

    def ingest_options(self, **overrides: Any) -> IngestOptions:
        """How this service ingests: its library, root, bounds and embedding cache."""
        defaults: dict[str, Any] = {
            "library": self.settings.DEFAULT_LIBRARY,
            "images_root": Path(self.settings.IMAGES_ROOT),
            "max_pixels": self.settings.MAX_IMAGE_PIXELS,
            "cache": self.cache,
        }
        return IngestOptions(**(defaults | overrides))

    def ingest_sample_library(self) -> None:
        """AUTO_INGEST: seed the default library from IMAGES_ROOT's manifest.jsonl, once.

        A demo stopped half-way through its first ingest finishes on the next start: the
        pipeline skips what is stored (point ids come from file content), so the re-run
        embeds only the missing images. Once a manifest has been ingested to the end, the
        registry records its digest and later starts leave the library alone, so an image
        deleted from it stays deleted. A changed manifest is seeded again.
        """
        root = Path(self.settings.IMAGES_ROOT)
        manifest = root / "manifest.jsonl"
        if not manifest.is_file():
            log.warning("AUTO_INGEST: %s has no manifest.jsonl; starting with an empty library", root)
            return
        opts = self.ingest_options()
        registry = self.libraries.registry if self.libraries is not None else None
        digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
        if registry is not None and registry.was_seeded(opts.library, digest):
            log.info("AUTO_INGEST: library %r was seeded from %s already", opts.library, manifest)
            return
        items = list(read_manifest(manifest, base=root))
        log.info("AUTO_INGEST: seeding library %r from %s (%d images)…", opts.library, manifest, len(items))
        report = Ingestor(self.encoders, self.store, opts).run(items)
        log.info("AUTO_INGEST: %s", report.summary())
        for f in report.failures:  # per file, logged; running again would not mend them
            log.warning("AUTO_INGEST failed: %s: %s", f.path, f.reason)
        if registry is not None:
            registry.mark_seeded(opts.library, digest)


@dataclass
class WorkerServices:
    """What `python -m app.jobs.worker` runs jobs with: the API's handlers, built by the same
    `Services.open`, when the library store can be opened by a second process (QDRANT_URL, or
    a store handed in). Otherwise only `generate`, without `addToLibrary`: the embedded store
    belongs to the API process, and the API refuses such jobs at submit time."""

    handlers: JobHandlers
    generation: GenerationService
    library: Services | None = None

    @classmethod
    def open(
        cls, settings: Settings, encoders: Encoders | None = None, store: VectorStore | None = None
    ) -> WorkerServices:
        if settings.QDRANT_URL or store is not None:
            services = Services.open(settings, encoders=encoders, store=store)
            assert services.generation is not None
            return cls(services.handlers, services.generation, services)
        log.warning(
            "job worker without QDRANT_URL: it runs `generate` jobs only (no `import`, no `addToLibrary`); "
            "the embedded store at QDRANT_PATH belongs to the API process"
        )
        handlers = JobHandlers()
        generation = build_generation_service(settings, jobs=None)
        generation.register_handlers(handlers)
        return cls(handlers, generation)

    async def start(self) -> None:
        await self.generation.start()

    async def stop(self, close_store: bool = True) -> None:
        await self.generation.stop()
        if self.library is not None:
            self.library.close_storage(close_store)
