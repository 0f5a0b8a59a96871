"""The API's filter → the store's filter tree, accepting only indexed payload fields."""

from __future__ import annotations

from app.embedding.tags import normalize_tag
from app.errors import InvalidInputError
from app.search.models import SearchFilter
from app.storage.schema import INTEGER_FIELDS, PAYLOAD_INDEXES
from app.storage.types import Condition, Filter, MatchAny, Range


def to_store_filter(f: SearchFilter | None) -> Filter:
    if f is None:
        return Filter()
    must: list[Condition] = [MatchAny("tags", (normalize_tag(t),)) for t in f.tags_all if normalize_tag(t)]
    any_tags = tuple(t for t in (normalize_tag(t) for t in f.tags_any) if t)
    if any_tags:
        must.append(MatchAny("tags", any_tags))
    must_not: list[Condition] = []
    none_tags = tuple(t for t in (normalize_tag(t) for t in f.tags_none) if t)
    if none_tags:
        must_not.append(MatchAny("tags", none_tags))
    for key, value in f.match.items():
        if key not in PAYLOAD_INDEXES:
            raise InvalidInputError(
                f"`filter.match.{key}`: {key!r} has no payload index; filter on one of {sorted(PAYLOAD_INDEXES)}.",
                field=f"filter.match.{key}",
            )
        values = tuple(value) if isinstance(value, list) else (value,)
        if not values:
            raise InvalidInputError(f"`filter.match.{key}` must not be an empty list.", field=f"filter.match.{key}")
        must.append(MatchAny(key, values))
    for key, bounds in f.range.items():
        if key not in INTEGER_FIELDS:
            raise InvalidInputError(
                f"`filter.range.{key}`: ranges apply to {list(INTEGER_FIELDS)}, not {key!r}.",
                field=f"filter.range.{key}",
            )
        unknown = set(bounds) - {"gte", "lte"}
        if unknown or not bounds:
            raise InvalidInputError(
                f"`filter.range.{key}` takes `gte` and/or `lte`, got {sorted(bounds)}.", field=f"filter.range.{key}"
            )
        must.append(Range(key, gte=bounds.get("gte"), lte=bounds.get("lte")))
    return Filter(must=tuple(must), must_not=tuple(must_not))
