"""Which reference informs which part of a prompt, and the role and weight that follow (pure).

Given the sub-queries of a prompt and, for each chosen reference, its score on each
sub-query (the coverage that /search/complementary returns):

* every sub-query is attributed to the reference that scores best on it (ties: the earlier
  reference; a sub-query no reference scores above 0 on stays unattributed);
* a reference's role is `style` when most of the score it is attributed (weighted by the
  sub-queries' weights) comes from `style` sub-queries, else `subject` (subjects, objects
  and settings are all things to show);
* its weight is 0.3 + 0.6 · its strongest attributed score, so 0.3–0.9 (the IP-Adapter
  scale range that keeps the prompt in charge); a reference attributed nothing gets 0.3
  scaled by its best score.

app/search/complementary.py shows these as suggestions; app/generation applies them when a
request comes with `grounding: true`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WEIGHT_FLOOR = 0.3
WEIGHT_SPAN = 0.6


@dataclass(frozen=True)
class Part:
    """A sub-query as grounding needs it."""

    id: str
    text: str
    kind: str
    weight: float = 1.0


@dataclass(frozen=True)
class Grounded:
    ref_id: str
    role: str  # "style" | "subject"
    weight: float
    parts: list[str]  # sub-query ids attributed to this reference


@dataclass(frozen=True)
class Attribution:
    sub_query_id: str
    text: str
    kind: str
    ref_id: str | None
    score: float


def ground(
    parts: Sequence[Part], refs: Sequence[tuple[str, Mapping[str, float]]]
) -> tuple[list[Grounded], list[Attribution]]:
    """(role/weight per reference, in the given order; attribution per sub-query, in order)."""
    ids = [p.id for p in parts]
    if len(set(ids)) != len(ids):
        raise ValueError(f"sub-query ids must be unique, got {ids}")
    attribution: list[Attribution] = []
    mine: dict[str, list[tuple[Part, float]]] = {ref_id: [] for ref_id, _ in refs}
    for part in parts:
        best_id: str | None = None
        best = 0.0
        for ref_id, coverage in refs:
            score = float(coverage.get(part.id, 0.0))
            if score > best:
                best_id, best = ref_id, score
        attribution.append(Attribution(part.id, part.text, part.kind, best_id, round(best, 6)))
        if best_id is not None:
            mine[best_id].append((part, best))
    grounded: list[Grounded] = []
    for ref_id, coverage in refs:
        got = mine[ref_id]
        if got:
            style = sum(p.weight * s for p, s in got if p.kind == "style")
            total = sum(p.weight * s for p, s in got)
            role = "style" if total > 0 and style > total / 2 else "subject"
            weight = WEIGHT_FLOOR + WEIGHT_SPAN * max(s for _, s in got)
        else:
            top = max(coverage.values(), default=0.0)
            kinds = [p.kind for p in parts if coverage.get(p.id, 0.0) == top and top > 0]
            role = "style" if kinds and kinds[0] == "style" else "subject"
            weight = WEIGHT_FLOOR * min(max(top, 0.0), 1.0)
        weight = round(min(max(weight, 0.0), 1.0), 3)
        grounded.append(Grounded(ref_id, role, weight, [p.id for p, _ in got]))
    return grounded, attribution
