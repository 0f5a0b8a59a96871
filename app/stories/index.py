"""The story index: stories as points in their own collection (`<COLLECTION>-stories`).

Each story has two vectors in the library's embedding space — `text` (the text-view encoder)
and `image` (the CLIP text tower, so a picture's own vector finds stories about it) — and a
payload with the story, its source image id and its owner/library scope, filtered like the
library's (app/library/access.py). The collection opens on first use, so processes that never
tell a story never create it.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from app.config import Settings
from app.embedding import Encoders
from app.errors import NotFoundError
from app.storage import VectorStore, open_store
from app.storage.schema import CollectionSchema
from app.storage.types import Filter, PointRecord, ViewQuery
from app.stories.models import Story, StoryHit

SUFFIX = "-stories"
MAX_QUERY_CHARS = 500


def sibling_store(settings: Settings, store: VectorStore | None, collection: str) -> VectorStore:
    """A store for `collection` beside `store` (same engine, same server or folder)."""
    from app.storage.edge import EdgeStore

    if store is not None:
        try:
            from app.storage.remote import RemoteStore

            if isinstance(store, RemoteStore):
                return RemoteStore(store.client, collection)
        except ImportError:  # pragma: no cover - qdrant-client is a dependency
            pass
        if isinstance(store, EdgeStore):
            return EdgeStore(store.root, collection, store.indexing_threshold_kb)
    return open_store(settings.model_copy(update={"COLLECTION": collection}))


class StoryIndex:
    def __init__(self, settings: Settings, encoders: Encoders, library_store: VectorStore | None = None) -> None:
        self.settings = settings
        self.encoders = encoders
        self.collection = settings.COLLECTION + SUFFIX
        self._library_store = library_store
        self._store: VectorStore | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> VectorStore:
        with self._lock:
            if self._store is None:
                store = sibling_store(self.settings, self._library_store, self.collection)
                e = self.encoders
                store.ensure(CollectionSchema(e.clip.dim, e.text.dim, e.space()), writing=True)
                self._store = store
            return self._store

    def vectors(self, text: str) -> dict[str, list[float]]:
        return {
            "text": self.encoders.text.encode_texts([text])[0].tolist(),
            "image": self.encoders.image_text.encode_texts([text])[0].tolist(),
        }

    def add(
        self,
        story: Story,
        *,
        source_image_id: str | None,
        library: str | None,
        owner: str | None,
        model: str,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Store a story (blocking); returns its id."""
        story_id = str(uuid.uuid4())
        text = story.text or story.setting or "story"
        payload: dict[str, Any] = {
            "kind": "story",
            "story": story.model_dump(mode="json", by_alias=True),
            "sourceImageId": source_image_id,
            "library": library or self.settings.DEFAULT_LIBRARY,
            "owner": owner,
            "model": model,
            "createdAt": datetime.now(UTC).isoformat(),
            **(extra or {}),
        }
        self.store.upsert([PointRecord(id=story_id, vectors=dict(self.vectors(text)), payload=payload)])
        return story_id

    def get(self, story_id: str, may_read: Any = None) -> Story:
        points = self.store.retrieve([story_id]) if _is_uuid(story_id) else []
        if not points or (may_read is not None and not may_read(points[0].payload)):
            raise NotFoundError(f"no story with id {story_id!r}.", id=story_id)
        return Story.model_validate(points[0].payload["story"])

    def search(self, query: str, limit: int, flt: Filter | None = None) -> list[StoryHit]:
        """Stories nearest to `query`, both views weighted equally (blocking)."""
        vectors = self.vectors(query)
        queries = [ViewQuery(view, vec, limit) for view, vec in vectors.items()]
        points = self.store.fused_query(queries, [0.5, 0.5], flt, limit)
        return [
            StoryHit(
                id=p.id,
                score=p.score,
                story=Story.model_validate(p.payload["story"]),
                source_image_id=p.payload.get("sourceImageId"),
                library=p.payload.get("library"),
            )
            for p in points
        ]

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
