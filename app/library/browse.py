"""Paging through a library, deleting an item or a whole library, and the plain text
search (GET /search).

Pages follow the store's own scroll order: the cursor is the id the store hands back as
the next offset, so a page costs one indexed scroll whatever the depth. Every function
takes the caller's `LibraryScope` (app/library/access.py): listings and searches AND its
tenant filter, deletes check it first.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.embedding.tags import normalize_tag
from app.errors import ClippyError, InvalidInputError, NotFoundError
from app.library.access import OPERATOR, LibraryScope
from app.library.models import DeletedImage, DeletedLibrary, ImagePage, ImageSummary
from app.search.cards import ImageCard
from app.search.hybrid import HybridSearcher, QueryInputs
from app.search.models import HybridQuery, SearchFilter, SearchResult
from app.storage.base import VectorStore
from app.storage.files import safe_join
from app.storage.payload import CAPTION_GENERATED, Payload
from app.storage.schema import TENANT_FIELD
from app.storage.thumbs import ThumbnailCache
from app.storage.types import Condition, Filter, MatchAny, StoredPoint

log = logging.getLogger(__name__)

# Callers that pass no scope act as operators (scripts, the CLI): every library.
OPERATOR_SCOPE = LibraryScope(OPERATOR, "default")


def _uuid(value: str, field: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidInputError(f"`{field}` must be an item id (a UUID), got {value!r}.", field=field) from None


def library_filter(library: str | None = None, tag: str | None = None) -> Filter:
    must: list[Condition] = []
    if library:
        must.append(MatchAny(TENANT_FIELD, (library,)))
    if tag is not None:
        normalized = normalize_tag(tag)
        if not normalized:
            raise InvalidInputError(f"`tag` {tag!r} has no letters or digits.", field="tag")
        must.append(MatchAny("tags", (normalized,)))
    return Filter(must=tuple(must))


def summary(pid: str, payload: Mapping[str, Any]) -> ImageSummary:
    card = ImageCard.from_payload(pid, payload)
    stored = Payload.read(payload)
    return ImageSummary(
        id=pid,
        library=card.library,
        **card.fields(),
        caption=stored.caption,
        caption_generated=stored.extra(CAPTION_GENERATED) is True,
    )


def list_images(
    store: VectorStore,
    *,
    library: str | None = None,
    tag: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    scope: LibraryScope | None = None,
) -> ImagePage:
    """One page of the items the caller may read, in store order; `cursor` is the previous
    page's `next_cursor`."""
    if limit < 1:
        raise InvalidInputError(f"`limit` must be at least 1, got {limit}.", field="limit")
    offset = _uuid(cursor, "cursor") if cursor else None
    flt = library_filter(library, tag).and_(scope.read_filter() if scope else None)
    if not store.exists():
        return ImagePage(items=[], next_cursor=None, total=0)
    points, nxt = store.scroll(flt or None, limit=limit, offset=offset)
    return ImagePage(
        items=[summary(p.id, p.payload) for p in points],
        next_cursor=nxt,
        total=store.count(flt or None),
    )


def delete_image(
    store: VectorStore,
    thumbs: ThumbnailCache,
    images_root: Path,
    image_id: str,
    scope: LibraryScope = OPERATOR_SCOPE,
) -> DeletedImage:
    """Remove the point and its cached thumbnail; the file too when the library owns it and
    no other point (another library holding the same content) still refers to it. An item
    the caller cannot read is 404 like an unknown one; one in a library it only reads, 403."""
    image_id = _uuid(image_id, "id")
    found = store.retrieve([image_id])
    if not found:
        raise NotFoundError(f"no library image with id {image_id!r}.", id=image_id)
    scope.check_read(found[0].payload, image_id)
    payload = Payload.read(found[0].payload)
    scope.check_write(str(payload.library))
    # The thumbnail goes before the point, so a process killed in between leaves a point
    # whose thumbnail is made again on demand, never a thumbnail of no point (nothing sweeps
    # the cache); and again after, for one a concurrent /thumb made meanwhile.
    had_thumb = _drop_thumbnail(thumbs, image_id)
    store.delete([image_id])
    thumbs.invalidate(image_id)
    removed, reason = _remove_owned_file(store, images_root, image_id, payload)
    return DeletedImage(id=image_id, thumbnail_removed=had_thumb, file_removed=removed, file_kept_reason=reason)


def _drop_thumbnail(thumbs: ThumbnailCache, image_id: str) -> bool:
    had_thumb = thumbs.path_for(image_id).is_file()
    thumbs.invalidate(image_id)
    return had_thumb


def _remove_owned_file(
    store: VectorStore, images_root: Path, image_id: str, payload: Payload
) -> tuple[bool, str | None]:
    """After the point is gone: unlink its file when the library owned it and no remaining
    point refers to the same file. (removed, why it was kept)."""
    rel = payload.path or ""
    if not payload.is_owned:
        return False, "not owned"
    sharing = [p for p in _same_content(store, payload) if Payload.read(p.payload).path == rel]
    if sharing:
        return False, f"still used by {len(sharing)} other item(s)"
    try:
        path = safe_join(images_root, rel)
        path.unlink()
    except ClippyError as e:  # outside the root, or already gone: the point is deleted all the same
        log.warning("delete %s: file %r kept: %s", image_id, rel, e.message)
        return False, e.message
    except OSError as e:
        log.warning("delete %s: could not remove %r: %s", image_id, rel, e)
        return False, str(e)
    return True, None


def delete_library_points(
    store: VectorStore, thumbs: ThumbnailCache, images_root: Path, library: str, page: int = 256
) -> DeletedLibrary:
    """Every point of `library` (by the tenant filter), its cached thumbnails and the files
    it owned (unless a point elsewhere still uses them). Access is checked by the caller."""
    flt = library_filter(library)
    removed = thumbs_removed = files_removed = 0
    gone: set[str] = set()
    if not store.exists():
        return DeletedLibrary(name=library, images_removed=0, thumbnails_removed=0, files_removed=0)
    while True:
        # Always the first page: each round deletes what it read, so the next scroll starts fresh.
        points: list[StoredPoint]
        points, _ = store.scroll(flt, limit=page)
        if not points:
            break
        if any(p.id in gone for p in points):  # a delete the store did not apply: never loop
            raise RuntimeError(f"deleting library {library!r}: the store still returns deleted points")
        gone.update(p.id for p in points)
        # Thumbnails before their points (a kill in between leaves no thumbnail of no point),
        # and again after (one a concurrent /thumb made meanwhile); see `delete_image`.
        thumbs_removed += sum(_drop_thumbnail(thumbs, p.id) for p in points)
        store.delete([p.id for p in points])
        removed += len(points)
        for p in points:
            thumbs.invalidate(p.id)
            files_removed += _remove_owned_file(store, images_root, p.id, Payload.read(p.payload))[0]
    return DeletedLibrary(
        name=library, images_removed=removed, thumbnails_removed=thumbs_removed, files_removed=files_removed
    )


def _same_content(store: VectorStore, payload: Payload) -> list[StoredPoint]:
    if not payload.sha256:
        return []
    points, _ = store.scroll(Filter(must=(MatchAny("sha256", (payload.sha256,)),)), limit=1000)
    return points


def text_search(
    searcher: HybridSearcher,
    query: str,
    limit: int,
    library: str | None = None,
    scope: LibraryScope | None = None,
) -> SearchResult:
    """The text views only (`image` cross-modal, `text`, sparse `tags`): the GET convenience
    over the hybrid searcher, same hits and scores as POST /search/hybrid with wEdge=0."""
    text = query.strip()
    if not text:
        raise InvalidInputError("`query` must not be empty.", field="query")
    flt = SearchFilter(match={"library": library}) if library else None
    q = HybridQuery(query_text=text, w_img=1.0, w_edge=0.0, w_txt=1.0, w_tags=0.5, limit=limit, filter=flt)
    return searcher.search(q, QueryInputs(text=q.query_text), scope.read_filter() if scope else None)
