"""What the library endpoints answer. camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from pydantic import Field

from app.search.models import CamelModel


class ImageSummary(CamelModel):
    id: str
    library: str | None = None
    tags: list[str]
    width: int | None = None
    height: int | None = None
    source: str | None = None
    path: str | None = None
    image_url: str
    thumb_url: str


class ImagePage(CamelModel):
    items: list[ImageSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")
    total: int = Field(description="Items matching `library` and `tag` (all pages).")


class DeletedImage(CamelModel):
    id: str
    thumbnail_removed: bool
    file_removed: bool = Field(description="True only for files the library owns (uploads), never shared ones.")
    file_kept_reason: str | None = None


class DuplicateMember(CamelModel):
    id: str
    library: str | None = None
    path: str | None = None
    width: int | None = None
    height: int | None = None
    score: float | None = Field(default=None, description="Cosine to `keep` (near groups); null for `keep`.")


class DuplicateGroup(CamelModel):
    kind: str = Field(description="`exact` (same sha256) or `near` (image-vector cosine ≥ threshold).")
    keep: str = Field(description="The suggested item to keep: most pixels, then the smallest id.")
    members: list[DuplicateMember]
    min_score: float | None = None
    max_score: float | None = None


class DuplicateReport(CamelModel):
    library: str | None
    threshold: float
    scanned: int
    exact: list[DuplicateGroup]
    near: list[DuplicateGroup]
