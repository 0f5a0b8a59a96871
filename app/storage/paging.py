"""Reading a whole collection (or one library of it) page by page, through any VectorStore."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from app.storage.base import VectorStore
from app.storage.schema import tenant_filter
from app.storage.types import Filter


def scope_filter(library: str | None) -> Filter | None:
    """One library's points; None (every library) when no library is named."""
    return tenant_filter(library) if library else None


def iter_points(
    store: VectorStore, flt: Filter | None, page: int = 256, with_vectors: bool | Sequence[str] = False
) -> Iterator[tuple[str, dict[str, Any], dict[str, np.ndarray]]]:
    """(id, payload, vectors) of every point `flt` matches, `page` points per scroll."""
    offset: str | None = None
    while True:
        points, offset = store.scroll(flt, limit=page, offset=offset, with_vectors=with_vectors)
        for p in points:
            yield p.id, p.payload, p.vectors
        if offset is None or not points:
            return
