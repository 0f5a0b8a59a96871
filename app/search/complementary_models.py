"""Cross-modal RAG requests and answers: /search/decompose and /search/complementary.

camelCase on the wire (aliases), snake_case in Python, as in app/search/models.py.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from app.models import CamelModel
from app.search.models import SearchFilter, Timings

KindName = Literal["subject", "object", "style", "setting"]


class SubQueryModel(CamelModel):
    """One part of a prompt. Edit, add or remove them and send them back as `subQueries`."""

    id: str | None = Field(
        default=None,
        max_length=32,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Stable id (q1, q2, …); assigned when missing.",
    )
    text: str = Field(min_length=1, max_length=200, description="The words to retrieve for.")
    kind: KindName = Field(default="subject", description="subject | object | style | setting.")
    weight: float = Field(default=1.0, ge=0, le=10, description="Importance in the coverage objective.")

    @field_validator("text")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be blank")
        return v


class DecomposeRequest(CamelModel):
    prompt: str = Field(min_length=1, max_length=1000)


class DecomposeResponse(CamelModel):
    request_id: str | None = None
    prompt: str
    sub_queries: list[SubQueryModel]
    parser: Literal["parser", "rules"] = Field(
        description="`parser`: a spaCy parser pipeline's noun chunks; `rules`: the rule-based chunker."
    )


class ComplementaryQuery(CamelModel):
    """A prompt (decomposed on the server) or edited `subQueries` → a complementary set."""

    prompt: str | None = Field(default=None, max_length=1000)
    sub_queries: list[SubQueryModel] | None = Field(default=None, description="Wins over `prompt` when given.")
    limit: int = Field(default=4, ge=1, le=16, description="At most this many references (k).")
    w_img: float = Field(default=1.0, ge=0, le=100, description="Weight of the `image` view (CLIP text→image).")
    w_txt: float = Field(default=1.0, ge=0, le=100, description="Weight of the `text` view.")
    w_tags: float = Field(default=1.0, ge=0, le=100, description="Weight of the sparse `tags` view (lexical, IDF).")
    filter: SearchFilter | None = None
    method: Literal["auto", "greedy", "exact"] = Field(
        default="auto", description="Subset search: exact when small enough (`auto`), else greedy."
    )

    @field_validator("prompt")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None


class ComplementaryRef(CamelModel):
    id: str
    rank: int = Field(description="1 = chosen first (largest coverage gain).")
    gain: float = Field(description="Coverage this reference added when it was chosen.")
    coverage: dict[str, float] = Field(description="Sub-query id → this reference's score on it (0..1).")
    covers: list[str] = Field(description="Sub-query ids it scores at least `threshold` on.")
    attributed: list[str] = Field(description="Sub-query ids it is the best chosen reference for.")
    role: Literal["style", "subject"] = Field(description="Suggested generation role (from `attributed`).")
    weight: float = Field(description="Suggested generation weight, 0..1.")
    image_url: str
    thumb_url: str
    tags: list[str]
    width: int | None = None
    height: int | None = None
    source: str | None = None
    path: str | None = None


class CoverageMatrix(CamelModel):
    rows: list[str] = Field(description="Reference ids (the order of `refs`).")
    columns: list[str] = Field(description="Sub-query ids (the order of `subQueries`).")
    values: list[list[float]] = Field(description="values[r][c]: reference r's score on sub-query c.")
    threshold: float = Field(description="A score at least this counts as covering.")


class SubQueryCoverage(CamelModel):
    sub_query_id: str
    text: str
    kind: KindName
    ref_id: str | None = Field(description="The chosen reference that informs this part best.")
    score: float
    covered: bool


class ComplementaryResult(CamelModel):
    request_id: str | None = None
    prompt: str | None
    sub_queries: list[SubQueryModel]
    refs: list[ComplementaryRef]
    matrix: CoverageMatrix
    attribution: list[SubQueryCoverage] = Field(description="Per sub-query: which reference covers it, how well.")
    coverage: float = Field(description="Σ weight · best score over sub-queries, divided by Σ weight (0..1).")
    covered: int = Field(description="How many sub-queries some reference covers (score ≥ threshold).")
    frontier: int = Field(description="Size of the Pareto frontier the set was chosen from.")
    candidates: int = Field(description="Candidates pooled from every sub-query's prefetches.")
    method: Literal["greedy", "exact"]
    weights: dict[str, float] = Field(description="The normalised view weights used.")
    timings: Timings
