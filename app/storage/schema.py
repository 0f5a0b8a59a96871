"""The collection schema every store and every writer shares."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from app.errors import ModelMismatchError
from app.storage.types import Filter, MatchAny

# Payload fields with an index, and their types. Filters may use exactly these.
KEYWORD_FIELDS = ("tags", "source", "sha256", "library")
INTEGER_FIELDS = ("width", "height")
TENANT_FIELD = "library"
# The payload flag of files a library owns (copies this service made): deleting the point
# deletes the file too.
OWNED_FIELD = "owned"
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
    space: dict[str, Any]  # Encoders.space(): model, pretrained, text model, edge and shape params

    @property
    def shape_dim(self) -> int | None:
        """The `shape` view's size, from the descriptor record in the space (None: no such view)."""
        dim = (self.space.get("shape") or {}).get("dim")
        return int(dim) if dim else None

    @property
    def dense_sizes(self) -> dict[str, int]:
        sizes = {"image": self.image_dim, "edge": self.image_dim, "text": self.text_dim}
        if self.shape_dim:
            sizes["shape"] = self.shape_dim
        return sizes


# What must match for a writer or reader to use an existing collection.
# `seed` is None with real weights; with PRETRAINED=random it is the seed the weights came from.
_SPACE_KEYS = ("model", "pretrained", "seed", "image_dim", "text_model", "text_dim", "adapter")


def _mismatch_remedy(diffs: dict[str, tuple[Any, Any]], stored: dict[str, Any]) -> str:
    if "adapter" in diffs:
        # An adapter (setting ADAPTER) changes the stored `image` vectors: its own remedy.
        return (
            "Set ADAPTER to the collection's (unset: none), or re-ingest the library into a new "
            "COLLECTION with this ADAPTER (the embedding cache keeps the raw vectors: no image is re-encoded)."
        )
    random_collection = str(stored.get("pretrained", "")).lower() == "random"
    if random_collection and stored.get("seed") is None and diffs.keys() <= {"seed"}:
        # Written before random weights were seeded: they came from an unseeded generator that
        # no process can reproduce, so no setting makes its `image`/`edge` vectors comparable.
        return (
            "Its random weights were drawn without a seed and cannot be reproduced: re-ingest the "
            "library into a new COLLECTION (the `image` and `edge` views of this one match nothing)."
        )
    if "seed" in diffs:
        return "Set RANDOM_SEED to the collection's, or use another COLLECTION."
    return "Set MODEL_NAME/PRETRAINED/TEXT_MODEL to match it, or use another COLLECTION."


def check_space(collection: str, stored: dict[str, Any], running: dict[str, Any], *, writing: bool) -> None:
    """Refuse to mix embedding spaces. The edge and shape versions only block writers: readers
    of an older version still get meaningful (if slightly different) matches. A shape
    descriptor of another size blocks everyone: its vectors cannot be compared at all."""
    diffs = {k: (stored.get(k), running.get(k)) for k in _SPACE_KEYS if stored.get(k) != running.get(k)}
    if diffs:
        said = ", ".join(f"{k}: collection has {a!r}, running {b!r}" for k, (a, b) in diffs.items())
        fix = _mismatch_remedy(diffs, stored)
        raise ModelMismatchError(
            f"Collection {collection!r} was built with another embedding space ({said}). {fix}",
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
    stored_shape, running_shape = stored.get("shape") or {}, running.get("shape") or {}
    if not running_shape:
        return
    if not stored_shape:
        return  # made before the view existed: ensure() adds the vector and records it
    if stored_shape.get("dim") != running_shape.get("dim"):
        raise ModelMismatchError(
            f"Collection {collection!r} holds `shape` descriptors of {stored_shape.get('dim')} dims "
            f"(version {stored_shape.get('version')!r}), this code makes {running_shape.get('dim')} "
            f"(version {running_shape.get('version')!r}). A vector's size cannot change in place: "
            f"re-ingest into a new COLLECTION (EMBED_CACHE_PATH keeps the model's vectors, so it is cheap).",
            collection=collection,
        )
    if writing and stored_shape.get("version") != running_shape.get("version"):
        raise ModelMismatchError(
            f"Collection {collection!r} holds `shape` descriptors of version {stored_shape.get('version')!r}, "
            f"this code makes {running_shape.get('version')!r}. Run `clippy backfill --which shape` "
            f"to recompute them.",
            collection=collection,
        )


def missing_vectors_error(collection: str, views: list[str], cause: Exception) -> ModelMismatchError:
    """A collection made before a named vector existed, on a Qdrant that cannot add one
    (servers before the `PUT /collections/{name}/vectors/{vector}` API)."""
    return ModelMismatchError(
        f"Collection {collection!r} has no {', '.join(f'`{v}`' for v in views)} vector (it was built "
        f"before that view existed) and adding it failed: {cause}. Upgrade the Qdrant server, or "
        f"re-ingest the library into a new COLLECTION (with EMBED_CACHE_PATH set, files seen before "
        f"skip the model, so it is cheap).",
        collection=collection,
        missing=views,
    )


def tenant_filter(*libraries: str) -> Filter:
    """Points of these libraries: a match on the tenant field (Qdrant's tenant index)."""
    if not libraries:
        raise ValueError("`libraries` must name at least one library")
    return Filter(must=(MatchAny(TENANT_FIELD, tuple(libraries)),))
