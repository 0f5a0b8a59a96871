"""The payload of a library point: one typed model for the writer (app/ingest/pipeline.py)
and every reader (search hits, library pages, duplicates, atlas, backfill), so the two
cannot drift.

The stored JSON keys are the ones collections on disk already hold: `Payload.read(stored)
.stored() == stored` for anything the pipeline wrote. Keys the model does not declare
(manifest columns such as `title` or `license`, an import's `origin`, a generated image's
`generated` record) ride along untouched as extras.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.storage.schema import OWNED_FIELD

log = logging.getLogger(__name__)

# An extra key: true while `caption` and `tags` are AUTO_CAPTION's (app/library/imports/captions.py),
# removed when a person edits them (app/library/metadata.py).
CAPTION_GENERATED = "caption_generated"


class Payload(BaseModel):
    """What a point says about its image. Every field is optional on read: collections
    written by older code may lack the newer ones (`shape_version`, `text_template`)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    path: str | None = Field(None, description="The file, relative to IMAGES_ROOT when it lies under it.")
    tags: list[str] = Field(default_factory=list, description="Normalised tags (the sparse `tags` view).")
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    # Stored as `bytes`; the Python name does not shadow the builtin type.
    file_bytes: int | None = Field(None, alias="bytes")
    library: str | None = Field(None, description="The tenant (TENANT_FIELD).")
    source: str | None = None
    caption: str | None = None
    edge_version: str | None = None
    shape_version: str | None = None
    text_template: str | None = None
    ingested_at: str | None = None
    # OWNED_FIELD. Only ever stored as true (absent otherwise); strict, so no string passes
    # for it: a point marked owned has its file unlinked on delete.
    owned: bool | None = Field(default=None, strict=True)

    @field_validator("tags", mode="before")
    @classmethod
    def _no_tags(cls, value: Any) -> Any:
        return [] if value is None else value

    @classmethod
    def read(cls, stored: Mapping[str, Any]) -> Payload:
        """A point's payload as the store returns it. A declared key holding a value of the
        wrong type (hand-edited, or written before the writer was typed) reads as absent, so
        one odd point neither fails a search nor passes a string for `owned`."""
        return cls._lenient(stored, "stored payload", "stored")

    @classmethod
    def _lenient(cls, data: Mapping[str, Any], where: object, what: str) -> Payload:
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            bad = sorted({str(err["loc"][0]) for err in e.errors()})
            log.warning("%s: ignored %s fields %s (wrong type)", where, what, bad)
            return cls.model_validate({k: v for k, v in data.items() if k not in bad})

    def stored(self) -> dict[str, Any]:
        """The JSON the store keeps: the keys that were set (an explicit null included), by
        their stored names, extras as they came."""
        return self.model_dump(by_alias=True, exclude_unset=True)

    @property
    def is_owned(self) -> bool:
        return self.owned is True

    def extra(self, key: str) -> Any:
        """An undeclared key (a manifest column, say), or None."""
        return (self.model_extra or {}).get(key)

    @classmethod
    def described(
        cls, computed: Payload, description: Mapping[str, Any], where: object, source: str | None = None
    ) -> Payload:
        """`computed` (what the pipeline measured and decided) with an item's `description`
        (manifest columns, import names; its own `source` wins over the run's `source`)
        added. A description never sets a key `computed` holds, nor `owned` (which lets
        DELETE unlink the file); a described value of the wrong type for a declared field (a
        number as `source`) is dropped rather than stored where every reader would trip on
        it. Both are logged against `where`."""
        reserved = computed.stored().keys() | {OWNED_FIELD}
        refused = sorted(k for k in description if k in reserved)
        if refused:
            log.warning("%s: ignored extra fields %s (reserved)", where, refused)
        described = cls._lenient({k: v for k, v in description.items() if k not in refused}, where, "extra")
        return cls.model_validate({"source": source} | described.stored() | computed.stored())
