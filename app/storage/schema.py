"""The collection schema every store and every writer shares."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from app.errors import ModelMismatchError

# Payload fields with an index, and their types. Filters may use exactly these.
KEYWORD_FIELDS = ("tags", "source", "sha256", "library")
INTEGER_FIELDS = ("width", "height")
TENANT_FIELD = "library"
IndexType = Literal["keyword", "integer"]
PAYLOAD_INDEXES: dict[str, IndexType] = {
    **{name: "keyword" for name in KEYWORD_FIELDS},
    **{name: "integer" for name in INTEGER_FIELDS},
}

# Fixed namespace: the same (library, content) gives the same point id on every machine.
_ID_NAMESPACE = uuid.UUID("6f1c2b1e-9a55-4c55-9d8e-0c1f5e7e2a10")


def content_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def point_id(sha256: str, library: str) -> str:
    """Deterministic id from file content and library: re-ingesting is a no-op."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{library}:{sha256}"))


@dataclass(frozen=True)
class CollectionSchema:
    """Vector sizes and the embedding space that fills them."""

    image_dim: int
    text_dim: int
    space: dict[str, Any]  # Encoders.space(): model, pretrained, text model, edge params

    @property
    def dense_sizes(self) -> dict[str, int]:
        return {"image": self.image_dim, "edge": self.image_dim, "text": self.text_dim}


# What must match for a writer or reader to use an existing collection.
_SPACE_KEYS = ("model", "pretrained", "image_dim", "text_model", "text_dim")


def check_space(collection: str, stored: dict[str, Any], running: dict[str, Any], *, writing: bool) -> None:
    """Refuse to mix embedding spaces. The edge version only blocks writers: readers of an
    older edge version still get meaningful (if slightly different) edge matches."""
    diffs = {k: (stored.get(k), running.get(k)) for k in _SPACE_KEYS if stored.get(k) != running.get(k)}
    if diffs:
        said = ", ".join(f"{k}: collection has {a!r}, running {b!r}" for k, (a, b) in diffs.items())
        raise ModelMismatchError(
            f"Collection {collection!r} was built with another embedding space ({said}). Set "
            f"MODEL_NAME/PRETRAINED/TEXT_MODEL to match it, or use another COLLECTION.",
            collection=collection,
            differences={k: {"collection": a, "running": b} for k, (a, b) in diffs.items()},
        )
    stored_edge = (stored.get("edge") or {}).get("version")
    running_edge = (running.get("edge") or {}).get("version")
    if writing and stored_edge != running_edge:
        raise ModelMismatchError(
            f"Collection {collection!r} holds edge maps of version {stored_edge!r}, this code "
            f"makes {running_edge!r}. Run `clippy backfill --which edge` to recompute them.",
            collection=collection,
        )
