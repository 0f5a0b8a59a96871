"""A person's edit of an item's caption and tags (PATCH /images/{id}).

The edit rewrites what the caption and tags feed: the payload, the `text` view (the caption
and tags sentence through the text encoder) and the sparse `tags` view, and clears
`caption_generated` (set by AUTO_CAPTION on import), so the item reads as checked. The point
is written whole (its picture views as stored), so a view the edit empties (no tags left)
goes rather than keeping stale terms.
"""

from __future__ import annotations

from app.embedding import Encoders
from app.embedding.tags import normalize_tag, tags_vector
from app.errors import InvalidInputError, NotFoundError
from app.library.access import LibraryScope
from app.library.models import ImageMetadata, MetadataEdit
from app.storage.base import VectorStore
from app.storage.payload import CAPTION_GENERATED, Payload
from app.storage.types import PointRecord, Vector


def metadata_of(image_id: str, payload: Payload) -> ImageMetadata:
    return ImageMetadata(
        id=image_id,
        caption=payload.caption,
        tags=list(payload.tags),
        caption_generated=payload.extra(CAPTION_GENERATED) is True,
    )


def edit_metadata(
    store: VectorStore, encoders: Encoders, image_id: str, edit: MetadataEdit, scope: LibraryScope
) -> ImageMetadata:
    """Apply `edit` (fields not sent stay) to a library item the caller may write."""
    found = store.retrieve([image_id], with_vectors=True)
    if not found:
        raise NotFoundError(f"no library image with id {image_id!r}.", id=image_id)
    point = found[0]
    scope.check_read(point.payload, image_id)
    payload = Payload.read(point.payload)
    scope.check_write(str(payload.library))
    sent = edit.model_fields_set
    caption = ((edit.caption or "").strip() or None) if "caption" in sent else payload.caption
    raw = edit.tags if "tags" in sent and edit.tags is not None else list(payload.tags)
    tags = list(dict.fromkeys(t for t in (normalize_tag(t) for t in raw) if t))
    text = encoders.tags_text(tags, caption)
    if text is None:
        raise InvalidInputError(
            "an item needs a caption or at least one tag (its `text` view is made from them).", field="tags"
        )
    vectors: dict[str, Vector] = {name: v.tolist() for name, v in point.vectors.items() if name != "text"}
    vectors["text"] = encoders.text.encode_texts([text])[0].tolist()
    if tags:
        vectors["tags"] = tags_vector(tags)
    stored = {k: v for k, v in payload.stored().items() if k != CAPTION_GENERATED}
    stored.update(tags=tags, caption=caption, text_template=encoders.text_template)
    if caption is None:
        del stored["caption"]
    store.upsert([PointRecord(image_id, vectors, stored)])
    return metadata_of(image_id, Payload.read(stored))
