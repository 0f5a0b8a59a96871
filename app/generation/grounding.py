"""`grounding: true` on POST /images/generate: a /search/complementary answer becomes refs.

The client posts the complementary answer as is under `complementary` (keys it does not
need are ignored). Each of its references goes in by library id, with the role and weight
that follow from the sub-queries it covers (app/search/grounding.py: a reference informing
mostly `style` parts is a style reference, otherwise a subject one; weight 0.3–0.9 by how
strongly it covers them). The job's params and result carry the attribution: for every
sub-query, which reference informed it and how strongly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from app.models import LenientCamelModel
from app.search.grounding import Part, ground

if TYPE_CHECKING:
    from app.generation.models import GenerateRequest


class _Loose(LenientCamelModel):
    """Accepts the search answer as is: unknown keys are ignored, not refused."""


class GroundingSubQuery(_Loose):
    id: str = Field(max_length=32)
    text: str = Field(max_length=200)
    kind: str = "subject"
    weight: float = Field(default=1.0, ge=0, le=10)


class GroundingRef(_Loose):
    id: str = Field(description="A library image id.")
    coverage: dict[str, float] = Field(description="Sub-query id → score (0..1).")


class Grounding(_Loose):
    """The POST /search/complementary answer (its `subQueries` and `refs` are used)."""

    sub_queries: list[GroundingSubQuery] = Field(min_length=1, max_length=32)
    refs: list[GroundingRef] = Field(min_length=1, max_length=16)


def apply_grounding(
    request: GenerateRequest, max_refs: int | None = None
) -> tuple[GenerateRequest, list[dict[str, Any]] | None]:
    """The request with the grounded refs appended after its own, and the attribution
    (None when the request is not grounded). With `max_refs`, only the first references of
    the answer (the largest coverage gains) that fit beside the request's own refs are used,
    and the attribution is computed over those."""
    from app.generation.models import RefSpec  # models imports this module

    if not request.grounding or request.complementary is None:
        return request, None
    g = request.complementary
    parts = [Part(q.id, q.text, q.kind, q.weight) for q in g.sub_queries]
    room = len(g.refs) if max_refs is None else max(0, max_refs - len(request.refs))
    try:
        grounded, attribution = ground(parts, [(r.id, r.coverage) for r in g.refs[:room]])
    except ValueError as e:
        from app.errors import InvalidInputError

        raise InvalidInputError(f"`complementary.subQueries`: {e}.", field="complementary.subQueries") from e
    kept = [x for x in grounded if x.weight > 0]
    refs = [*request.refs, *(RefSpec(role=x.role, id=x.ref_id, weight=x.weight) for x in kept)]  # type: ignore[arg-type]
    index = {x.ref_id: len(request.refs) + i for i, x in enumerate(kept)}
    roles = {x.ref_id: (x.role, x.weight) for x in kept}
    out = [
        {
            "subQueryId": a.sub_query_id,
            "text": a.text,
            "kind": a.kind,
            "refId": a.ref_id if a.ref_id in index else None,
            "refIndex": index.get(a.ref_id) if a.ref_id is not None else None,
            "role": roles[a.ref_id][0] if a.ref_id in roles else None,
            "weight": roles[a.ref_id][1] if a.ref_id in roles else None,
            "score": a.score,
        }
        for a in attribution
    ]
    return request.model_copy(update={"refs": refs}), out
