"""Paging through a library, deleting an item, and the plain text search (GET /search).

Pages follow the store's own scroll order: the cursor is the id the store hands back as
the next offset, so a page costs one indexed scroll whatever the depth.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from app.embedding.tags import normalize_tag
from app.errors import ClippyError, InvalidInputError, NotFoundError
from app.library.models import DeletedImage, ImagePage, ImageSummary
from app.search.hybrid import HybridSearcher, QueryInputs
from app.search.models import HybridQuery, SearchFilter, SearchResult
from app.storage.base import VectorStore
from app.storage.files import safe_join
from app.storage.thumbs import ThumbnailCache
from app.storage.types import Condition, Filter, MatchAny

log = logging.getLogger(__name__)

# Payload flag set by whoever copied the file into IMAGES_ROOT for the library (uploads):
# deleting the item may delete the file. Files the library only points at are never touched.
OWNED_FLAG = "owned"


def _uuid(value: str, field: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidInputError(f"`{field}` must be an item id (a UUID), got {value!r}.", field=field) from None


def library_filter(library: str | None = None, tag: str | None = None) -> Filter:
    must: list[Condition] = []
    if library:
        must.append(MatchAny("library", (library,)))
    if tag is not None:
        normalized = normalize_tag(tag)
        if not normalized:
            raise InvalidInputError(f"`tag` {tag!r} has no letters or digits.", field="tag")
        must.append(MatchAny("tags", (normalized,)))
    return Filter(must=tuple(must))


def summary(pid: str, payload: dict[str, Any]) -> ImageSummary:
    return ImageSummary(
        id=pid,
        library=payload.get("library"),
        tags=list(payload.get("tags") or []),
        width=payload.get("width"),
        height=payload.get("height"),
        source=payload.get("source"),
        path=payload.get("path"),
        image_url=f"/image/{pid}",
        thumb_url=f"/thumb/{pid}",
    )


def list_images(
    store: VectorStore,
    *,
    library: str | None = None,
    tag: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> ImagePage:
    """One page of items in store order; `cursor` is the previous page's `next_cursor`."""
    if limit < 1:
        raise InvalidInputError(f"`limit` must be at least 1, got {limit}.", field="limit")
    offset = _uuid(cursor, "cursor") if cursor else None
    flt = library_filter(library, tag)
    if not store.exists():
        return ImagePage(items=[], next_cursor=None, total=0)
    points, nxt = store.scroll(flt or None, limit=limit, offset=offset)
    return ImagePage(
        items=[summary(p.id, p.payload) for p in points],
        next_cursor=nxt,
        total=store.count(flt or None),
    )


def delete_image(store: VectorStore, thumbs: ThumbnailCache, images_root: Path, image_id: str) -> DeletedImage:
    """Remove the point and its cached thumbnail; the file too when the library owns it and
    no other point (another library holding the same content) still refers to it."""
    image_id = _uuid(image_id, "id")
    found = store.retrieve([image_id])
    if not found:
        raise NotFoundError(f"no library image with id {image_id!r}.", id=image_id)
    payload = found[0].payload
    store.delete([image_id])
    thumb = thumbs.path_for(image_id)
    had_thumb = thumb.is_file()
    thumbs.invalidate(image_id)

    rel = str(payload.get("path") or "")
    if payload.get(OWNED_FLAG) is not True:
        return DeletedImage(id=image_id, thumbnail_removed=had_thumb, file_removed=False, file_kept_reason="not owned")
    sharing = [p for p in _same_content(store, payload) if p.payload.get("path") == rel]
    if sharing:
        reason = f"still used by {len(sharing)} other item(s)"
        return DeletedImage(id=image_id, thumbnail_removed=had_thumb, file_removed=False, file_kept_reason=reason)
    try:
        path = safe_join(images_root, rel)
        path.unlink()
    except ClippyError as e:  # outside the root, or already gone: the point is deleted all the same
        log.warning("delete %s: file %r kept: %s", image_id, rel, e.message)
        return DeletedImage(id=image_id, thumbnail_removed=had_thumb, file_removed=False, file_kept_reason=e.message)
    except OSError as e:
        log.warning("delete %s: could not remove %r: %s", image_id, rel, e)
        return DeletedImage(id=image_id, thumbnail_removed=had_thumb, file_removed=False, file_kept_reason=str(e))
    return DeletedImage(id=image_id, thumbnail_removed=had_thumb, file_removed=True)


def _same_content(store: VectorStore, payload: dict[str, Any]) -> list[Any]:
    sha = payload.get("sha256")
    if not sha:
        return []
    points, _ = store.scroll(Filter(must=(MatchAny("sha256", (str(sha),)),)), limit=1000)
    return points


def text_search(searcher: HybridSearcher, query: str, limit: int, library: str | None = None) -> SearchResult:
    """The text views only (`image` cross-modal, `text`, sparse `tags`): the GET convenience
    over the hybrid searcher, same hits and scores as POST /search/hybrid with wEdge=0."""
    text = query.strip()
    if not text:
        raise InvalidInputError("`query` must not be empty.", field="query")
    flt = SearchFilter(match={"library": library}) if library else None
    q = HybridQuery(query_text=text, w_img=1.0, w_edge=0.0, w_txt=1.0, w_tags=0.5, limit=limit, filter=flt)
    return searcher.search(q, QueryInputs(text=q.query_text))
