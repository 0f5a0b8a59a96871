"""The hybrid query and its answer. camelCase on the wire (aliases), snake_case in Python."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from app.models import CamelModel
from app.search.cards import ImageCard
from app.search.defaults import WEIGHT_FIELDS

# A 32x32 circle: the sketch example is a real drawing, so /docs' "Try it out" runs it.
_EXAMPLE_SKETCH = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAACAAAAAgAQAAAABbAUdZAAAAXElEQVR42nXOsQ1AQABG4Xe/AeiUDKF3mxnBCFa5A"
    "cwgEg29guTitwDNK7+8YED85q4Q+4nYFsRcg/tnkCGJGNADK9mevgDy4EaCViSjABGPl0V3gNfC+Cod/jZev4MhL7xOGgsAAAAASUVORK5CYII="
)


def _no_default(schema: dict[str, Any]) -> None:
    # The server fills what a request does not send per query kind (app/search/defaults.py),
    # so the schema names no default a generated client could copy into every request.
    schema.pop("default", None)


def _weight(view: str) -> Any:
    """A view's weight: as sent, or the default for the query's kind when not sent."""
    return Field(
        default=0.0,
        ge=0,
        le=100,
        description=f"Weight of the {view}. Not sent: the default for the query's kind "
        "(sketch, text, sketch+text, image, examples; `GET /info` `defaults`), 0 for views "
        "driven by a random-weight model.",
        json_schema_extra=_no_default,
    )


class SearchFilter(CamelModel):
    tags_all: list[str] = Field(default_factory=list, description="Every one of these tags.")
    tags_any: list[str] = Field(default_factory=list, description="At least one of these tags.")
    tags_none: list[str] = Field(default_factory=list, description="None of these tags.")
    match: dict[str, str | int | bool | list[str | int | bool]] = Field(
        default_factory=dict,
        description="Indexed payload fields → a value or any of a list, of the field's type: "
        "strings for the keyword fields source, sha256, library; integers for width, height.",
    )
    range: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description='Indexed integer fields → {"gte": .., "lte": ..}, e.g. {"width": {"gte": 512}}.',
    )


class HybridQuery(CamelModel):
    """A hybrid query. Images (sketch, example) come as data URLs in JSON, files in multipart."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"queryText": "a red circle", "wImg": 1, "wEdge": 0, "wTxt": 1, "wTags": 0.5, "limit": 12},
                {"sketch": _EXAMPLE_SKETCH, "wEdge": 1, "wShape": 1, "wImg": 0, "wTxt": 0, "wTags": 0, "limit": 12},
            ]
        },
    )

    query_text: str | None = Field(
        default=None, max_length=1000, description="Routes to image (cross-modal), text and tags."
    )
    negative_text: str | None = Field(
        default=None, max_length=1000, description="Pushes the image and text views away."
    )
    sketch: str | None = Field(
        default=None, description="Data URL of a drawing; normalised, then the `edge` and `shape` views."
    )
    image: str | None = Field(
        default=None, description="Data URL of an example picture; `image` view, its edge map `edge` and `shape`."
    )
    w_img: float = _weight("`image` view")
    w_edge: float = _weight("`edge` view")
    w_txt: float = _weight("`text` view")
    w_shape: float = _weight("weight-free `shape` view (HOG of the line drawing; fed by sketch and image)")
    w_tags: float = _weight("sparse `tags` view")
    limit: int = Field(default=24, ge=1, le=1000, description="Hits per page; at most MAX_LIMIT (default 200).")
    offset: int = Field(
        default=0, ge=0, le=100_000, description="Hits to skip; offset + limit at most MAX_DEPTH (default 2000)."
    )
    cursor: str | None = Field(default=None, max_length=512, description="`nextCursor` of the previous page.")
    filter: SearchFilter | None = None
    score_threshold: float | None = Field(default=None, ge=0, le=1)
    rerank: bool = Field(
        default=True,
        description="Exact weighted re-rank of the candidate union (true) or Qdrant-side fusion (false). "
        "Not sent: the default for the query's kind (`GET /info` `defaults`).",
        json_schema_extra=_no_default,
    )
    positive_ids: list[str] = Field(default_factory=list, max_length=32, description="More like these library items.")
    negative_ids: list[str] = Field(default_factory=list, max_length=32, description="Less like these library items.")
    personalize: bool = Field(
        default=False,
        description="Re-rank the page by the key owner's feedback profile (POST /feedback): each hit's score moves "
        "by at most PROFILE_MAX_BOOST, shown as its `profile` view.",
    )

    def sent_weights(self) -> dict[str, float]:
        """View → weight, for the weights the request sent; the others take the kind's defaults."""
        return {view: getattr(self, name) for view, name in WEIGHT_FIELDS.items() if name in self.model_fields_set}

    def sent_rerank(self) -> bool | None:
        return self.rerank if "rerank" in self.model_fields_set else None

    @field_validator("query_text", "negative_text")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None

    @field_validator("positive_ids", "negative_ids")
    @classmethod
    def _uuids(cls, ids: list[str]) -> list[str]:
        # Point ids are UUIDs; the embedded engine raises on anything else, so refuse it
        # here (422 naming the value) and compare in the canonical form the store returns.
        out = []
        for value in ids:
            try:
                out.append(str(uuid.UUID(value)))
            except ValueError:
                raise ValueError(f"{value!r} is not a library item id (a UUID such as `hits[].id`)") from None
        return out


class ViewScore(CamelModel):
    raw: float | None = Field(description="Raw similarity in this view; null when the item has no vector here.")
    calibrated: float = Field(description="The raw score on the view's calibrated 0..1 scale.")
    weight: float = Field(description="The normalised weight this view had in the total.")


class HitPayload(CamelModel):
    """The stored fields a hit was read from (the seed's answers carried them as `payload`)."""

    path: str | None = None
    tags: list[str]
    library: str | None = None
    source: str | None = None

    @classmethod
    def of(cls, card: ImageCard) -> HitPayload:
        return cls(path=card.path, tags=list(card.tags), library=card.library, source=card.source)


class Hit(CamelModel):
    id: str
    score: float
    views: dict[str, ViewScore]
    image_url: str
    thumb_url: str
    tags: list[str]
    width: int | None = None
    height: int | None = None
    source: str | None = None
    path: str | None = None
    payload: HitPayload


class Timings(CamelModel):
    """Where a query's time went, in ms. `totalMs` is the search itself; reading and decoding
    the request's images comes before it (`decodeMs`), serialising the answer after it."""

    decode_ms: float = Field(default=0.0, description="Reading and decoding the request's images.")
    encode_ms: float = Field(description="Encoding the inputs, `prepareMs` included.")
    prepare_ms: float = Field(default=0.0, description="Of `encodeMs`: sketch normalisation, edge maps, HOG.")
    search_ms: float = Field(description="The Qdrant query.")
    rerank_ms: float = Field(description="Exact re-rank and paging.")
    total_ms: float


class SearchModel(CamelModel):
    """The image model that ranked the hits."""

    name: str
    pretrained: str


class SearchResult(CamelModel):
    request_id: str | None = None
    hits: list[Hit]
    next_cursor: str | None
    weights: dict[str, float] = Field(description="The normalised weight of every view that ranked the hits.")
    notes: list[str] = Field(
        default_factory=list,
        description="What the service chose for the request, e.g. a default weight of 0 for a view without signal.",
    )
    candidates: int = Field(description="Size of the candidate union that was ranked.")
    timings: Timings
    model: SearchModel
