from __future__ import annotations

from typing import Any

from app.storage.base import VectorStore
from app.storage.types import Filter


def collection_info(store: VectorStore, readable: Filter | None = None) -> dict[str, Any]:
    """The facts `clippy info` and `GET /info` report about a collection; `points` counts
    only what `readable` matches (a tenant's libraries), all points without it."""
    if not store.exists():
        return {"collection": store.collection, "exists": False, "points": 0}
    space = store.space() or {}
    return {
        "collection": store.collection,
        "exists": True,
        "points": store.count(readable),
        "vectors": store.vector_sizes(),
        "sparse": ["tags"],
        "model": space.get("model"),
        "pretrained": space.get("pretrained"),
        "randomWeights": str(space.get("pretrained", "")).lower() == "random",
        "textModel": space.get("text_model"),
        "textTemplate": space.get("text_template"),
        "edgeVersion": (space.get("edge") or {}).get("version"),
        "shapeVersion": (space.get("shape") or {}).get("version"),
    }
