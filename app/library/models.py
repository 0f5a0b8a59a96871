"""What the library endpoints answer. camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from app.models import CamelModel


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
    caption: str | None = None
    caption_generated: bool = Field(
        default=False, description="The caption and tags came from AUTO_CAPTION and no person has edited them yet."
    )


# The tags a person gives an image (an import's, an edit's): a handful of words each.
MAX_TAGS = 64
Tag = Annotated[str, Field(max_length=100)]


class MetadataEdit(CamelModel):
    """PATCH /images/{id}: a person's caption and/or tags (a field not sent stays as it is)."""

    caption: str | None = Field(default=None, max_length=1000, description="Empty or null removes the caption.")
    tags: list[Tag] | None = Field(
        default=None, max_length=MAX_TAGS, description="Replaces the tags (normalised as on import)."
    )

    @model_validator(mode="after")
    def _something(self) -> MetadataEdit:
        if not self.model_fields_set & {"caption", "tags"}:
            raise ValueError("send `caption` and/or `tags`")
        return self


class ImageMetadata(CamelModel):
    id: str
    caption: str | None
    tags: list[str]
    caption_generated: bool = Field(
        description="True while the caption and tags are AUTO_CAPTION's, until a person edits them."
    )


class ImagePage(CamelModel):
    items: list[ImageSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")
    total: int = Field(description="Items matching `library` and `tag` (all pages).")


class DeletedImage(CamelModel):
    id: str
    thumbnail_removed: bool
    file_removed: bool = Field(description="True only for files the library owns (uploads), never shared ones.")
    file_kept_reason: str | None = None
    trashed: bool = Field(
        default=False, description="In the trash: `POST /images/{id}/restore` brings it back until `purgeAt`."
    )
    purge_at: datetime | None = Field(default=None, description="When the trash purges it (TRASH_TTL_S).")


class DeleteImages(CamelModel):
    """POST /images/deletions: several items at once."""

    ids: list[str] = Field(min_length=1, max_length=1000)
    confirm: int | None = Field(
        default=None,
        description="The number of items, typed by the person deleting: required above BULK_DELETE_CONFIRM_ABOVE.",
    )


class DeletedImages(CamelModel):
    deleted: list[DeletedImage]


class TrashedImage(CamelModel):
    id: str
    library: str | None = None
    path: str | None = None
    thumb_url: str = Field(description="Served while it is in the trash (the file stays until the purge).")
    deleted_at: datetime
    purge_at: datetime


class TrashList(CamelModel):
    items: list[TrashedImage] = Field(description="Newest first, at most `limit`.")
    total: int
    ttl_s: float = Field(description="TRASH_TTL_S: how long an item stays restorable.")


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


NearScanState = Literal["none", "queued", "running", "succeeded", "failed", "cancelled", "off"]


class NearScan(CamelModel):
    """Where the near groups of a report come from: the caller's last scan job."""

    state: NearScanState = Field(
        description="`none`: never scanned (POST /images/duplicates/scans); `off`: refused, see `reason`; "
        "otherwise the last scan job's status."
    )
    job_id: str | None = None
    stale: bool = Field(default=False, description="The library changed since the scan: scan again.")
    reason: str | None = Field(default=None, description="Why near scans are off, why the scan failed or is stale.")
    threshold: float | None = None
    scanned_at: datetime | None = None


class DuplicateReport(CamelModel):
    library: str | None
    threshold: float
    scanned: int
    exact: list[DuplicateGroup]
    near: list[DuplicateGroup]
    near_scan: NearScan | None = Field(default=None, description="GET /images/duplicates: the last near scan.")


class DuplicateScanRequest(CamelModel):
    library: str | None = Field(default=None, max_length=200, description="Only this library (default: every one).")
    threshold: float | None = Field(default=None, ge=0, le=1, description="Default: DUPLICATE_THRESHOLD.")
    neighbours: int = Field(default=10, ge=1, le=100, description="Neighbours looked at per item.")


class DuplicateScanResult(DuplicateReport):
    """The `result` of a succeeded `duplicates` job."""

    library_version: int = Field(description="The library's change counter when the scan began.")
    seconds: float = Field(description="How long the scan took.")


class CreateLibrary(CamelModel):
    """POST /libraries. `owner` is for operator keys creating a library for a tenant; an
    owner key's libraries are always its own."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    visibility: Literal["private", "public"] = Field(
        default="private", description="`public`: every key may read it; only its owner writes it."
    )
    owner: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class LibraryView(CamelModel):
    name: str
    owner: str | None = Field(description="The user or team that owns it; null: the operators'.")
    visibility: Literal["private", "public"]
    default: bool = Field(description="The default library (DEFAULT_LIBRARY): always there, public-read.")
    writable: bool = Field(description="Whether the calling key may import into it and delete from it.")
    images: int
    created_at: str | None = None


class LibraryList(CamelModel):
    libraries: list[LibraryView]


class DeletedLibrary(CamelModel):
    name: str
    images_removed: int
    thumbnails_removed: int
    files_removed: int


class ImportFailure(CamelModel):
    path: str = Field(description="The file, entry or URL as the caller knows it.")
    reason: str


class NearDuplicate(CamelModel):
    path: str
    duplicate_of: str = Field(description="The id of the library image it is too close to.")
    score: float


class ImportResult(CamelModel):
    """The `result` of a succeeded `import` job (the job handler writes it as JSON)."""

    library: str
    total: int
    ingested: int
    skipped: int
    failed: list[ImportFailure]
    ids: list[str]
    near_duplicates: list[NearDuplicate] = Field(
        default_factory=list, description="Left out by `skipNearDuplicates`, each with what it duplicates."
    )
    captioned: int = Field(
        default=0,
        description="Untagged items stored with a caption and tags from DESCRIBE_MODEL (AUTO_CAPTION), marked "
        "`captionGenerated` until a person edits them (PATCH /images/{id}).",
    )
    notes: list[str] = Field(default_factory=list, description="Why untagged items were not captioned, if so.")
