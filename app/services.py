"""Everything a running service holds, opened once in the app's lifespan."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.config import Settings
from app.embedding import Encoders, load_encoders
from app.errors import ModelMismatchError, NotFoundError
from app.generation.service import GenerationService, build_generation_and_jobs
from app.ingest.pipeline import IngestOptions, Ingestor
from app.ingest.sources import read_manifest
from app.jobs import JobQueue
from app.search.hybrid import HybridSearcher
from app.storage import VectorStore, open_store
from app.storage.files import safe_join
from app.storage.schema import CollectionSchema
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
        services.generation, services.jobs = build_generation_and_jobs(
            settings, resolve_library_image=services.resolve_library_image
        )
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

    def ingest_sample_library(self) -> None:
        """First run of the demo: ingest IMAGES_ROOT's manifest.jsonl into the empty store."""
        root = Path(self.settings.IMAGES_ROOT)
        manifest = root / "manifest.jsonl"
        if not manifest.is_file():
            log.warning("AUTO_INGEST: %s has no manifest.jsonl; starting with an empty library", root)
            return
        items = list(read_manifest(manifest, base=root))
        log.info("AUTO_INGEST: embedding %d images from %s (first run only)…", len(items), manifest)
        opts = IngestOptions(
            library=self.settings.DEFAULT_LIBRARY, images_root=root, max_pixels=self.settings.MAX_IMAGE_PIXELS
        )
        report = Ingestor(self.encoders, self.store, opts).run(items)
        log.info("AUTO_INGEST: %s", report.summary())
        for f in report.failures:
            log.warning("AUTO_INGEST failed: %s: %s", f.path, f.reason)
