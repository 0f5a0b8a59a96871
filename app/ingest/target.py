"""Where and how a running service ingests: its encoders, store, library root, bounds and
embedding cache. Built once by the composition root (app/services.py) and handed to what
ingests on the service's behalf (imports, generated images, the sample library)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.config import Settings
from app.embedding import Encoders
from app.embedding.cache import EmbeddingCache
from app.ingest.pipeline import IngestOptions, Ingestor
from app.storage.base import VectorStore


@dataclass(frozen=True)
class IngestTarget:
    settings: Settings
    encoders: Encoders
    store: VectorStore
    cache: EmbeddingCache | None = None  # None: EMBED_CACHE_PATH is unset

    def options(self, **overrides: Any) -> IngestOptions:
        """The service's library, root, bounds and cache, with `overrides` on top."""
        defaults: dict[str, Any] = {
            "library": self.settings.DEFAULT_LIBRARY,
            "images_root": Path(self.settings.IMAGES_ROOT),
            "max_pixels": self.settings.MAX_IMAGE_PIXELS,
            "cache": self.cache,
        }
        return IngestOptions(**(defaults | overrides))

    def ingestor(self, options: IngestOptions) -> Ingestor:
        return Ingestor(self.encoders, self.store, options)
