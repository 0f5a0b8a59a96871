"""Vector stores behind one interface, and the files they point at."""

from __future__ import annotations

from app.config import Settings
from app.storage.base import VectorStore
from app.storage.schema import CollectionSchema, point_id
from app.storage.types import VectorStorage


def open_store(settings: Settings) -> VectorStore:
    """QDRANT_URL (server, cluster, or local mode) wins; otherwise the embedded engine."""
    if settings.QDRANT_URL:
        from app.storage.remote import RemoteStore, connect

        return RemoteStore(
            connect(settings.QDRANT_URL, settings.QDRANT_API_KEY),
            settings.COLLECTION,
            shards=settings.QDRANT_SHARDS,
            replicas=settings.QDRANT_REPLICAS,
            write_consistency=settings.QDRANT_WRITE_CONSISTENCY,
            vectors=VectorStorage.from_settings(settings),
        )
    from app.storage.edge import EdgeStore

    return EdgeStore(
        settings.QDRANT_PATH,
        settings.COLLECTION,
        settings.HNSW_INDEXING_THRESHOLD_KB,
        vectors=VectorStorage.from_settings(settings),
    )


__all__ = ["CollectionSchema", "VectorStore", "open_store", "point_id"]
