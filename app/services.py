"""Everything a running service holds, opened once in the app's lifespan."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.config import Settings
from app.embedding import Encoders, load_encoders
from app.embedding.cache import EmbeddingCache
from app.errors import ClippyError, ModelMismatchError, NotFoundError
from app.generation.service import GenerationService, build_generation_and_jobs
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import Item, read_manifest
from app.jobs import JobHandlers, JobQueue
from app.library.imports import ImportService
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
        handlers = JobHandlers()
        services.generation, services.jobs = build_generation_and_jobs(
            settings,
            handlers=handlers,
            resolve_library_image=services.resolve_library_image,
            add_to_library=services.add_generated_to_library,
        )
        if settings.EMBED_CACHE_PATH is not None:
            services.cache = EmbeddingCache(Path(settings.EMBED_CACHE_PATH), encoders.space())
        services.imports = ImportService(services.ingest_options, store, services.jobs, settings, encoders)
        services.imports.register_handlers(handlers)
        return services

    async def start(self) -> None:
        if self.generation is not None:
            await self.generation.start()
        if self.jobs is not None:
            await self.jobs.start()
        if self.settings.AUTO_INGEST and self.searcher.unusable is None and self.store.count() == 0:
            await asyncio.to_thread(self.ingest_sample_library)
        self.ready = True

    async def stop(self, close_store: bool = True) -> None:
        self.ready = False
        if self.jobs is not None:
            await self.jobs.stop()
        if self.generation is not None:
            await self.generation.stop()
        if self.cache is not None:
            self.cache.close()
        if close_store:
            self.store.close()

    def resolve_library_image(self, image_id: str) -> Path:
        """The file of a library image (generation refs by `id`); NotFoundError otherwise."""
        try:
            image_id = str(uuid.UUID(image_id))
        except ValueError:
            raise NotFoundError(f"no library image with id {image_id!r}.", id=image_id) from None
        found = self.store.retrieve([image_id])
        if not found:
            raise NotFoundError(f"no library image with id {image_id!r}.", id=image_id)
        return safe_join(Path(self.settings.IMAGES_ROOT), str(found[0].payload.get("path", "")))

    def add_generated_to_library(self, path: Path, tags: list[str], source: str) -> str:
        """`addToLibrary`: copy a generated image under IMAGES_ROOT/generated/ and embed it, with
        its prompt (from the sidecar) as the caption, so search finds it by text."""
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
        opts = self.ingest_options(source=source)
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
        """First run of the demo: ingest IMAGES_ROOT's manifest.jsonl into the empty store."""
        root = Path(self.settings.IMAGES_ROOT)
        manifest = root / "manifest.jsonl"
        if not manifest.is_file():
            log.warning("AUTO_INGEST: %s has no manifest.jsonl; starting with an empty library", root)
            return
        items = list(read_manifest(manifest, base=root))
        log.info("AUTO_INGEST: embedding %d images from %s (first run only)…", len(items), manifest)
        opts = self.ingest_options()
        report = Ingestor(self.encoders, self.store, opts).run(items)
        log.info("AUTO_INGEST: %s", report.summary())
        for f in report.failures:
            log.warning("AUTO_INGEST failed: %s: %s", f.path, f.reason)
