"""The API's filter → the store's filter tree, accepting only indexed payload fields.

Values are typed by the field's index (keyword → strings, integer → integers): the
engines refuse a list of mixed types, and a JSON `true` would otherwise match the integer
1. A value of the wrong type is a 422 naming the field, never an engine error.
"""

from __future__ import annotations

import math

from app.embedding.tags import normalize_tag
from app.errors import InvalidInputError
from app.search.models import SearchFilter
from app.storage.schema import INTEGER_FIELDS, PAYLOAD_INDEXES
from app.storage.types import Condition, Filter, MatchAny, Range

# Qdrant stores integer payloads as signed 64-bit.
_INT64 = (-(2**63), 2**63 - 1)


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
        must.append(MatchAny(key, _match_values(key, value)))
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
        bad = {k: v for k, v in bounds.items() if not math.isfinite(v)}
        if bad:
            raise InvalidInputError(
                f"`filter.range.{key}` bounds must be finite numbers, got {bad}.", field=f"filter.range.{key}"
            )
        must.append(Range(key, gte=bounds.get("gte"), lte=bounds.get("lte")))
    return Filter(must=tuple(must), must_not=tuple(must_not))


def _match_values(key: str, value: object) -> tuple[str, ...] | tuple[int, ...]:
    """`filter.match.<key>`'s value (or list of values), each of the type `key` is indexed as."""
    where = f"filter.match.{key}"
    kind = PAYLOAD_INDEXES.get(key)
    if kind is None:
        raise InvalidInputError(
            f"`{where}`: {key!r} has no payload index; filter on one of {sorted(PAYLOAD_INDEXES)}.", field=where
        )
    values = list(value) if isinstance(value, list) else [value]
    if not values:
        raise InvalidInputError(f"`{where}` must not be an empty list.", field=where)
    if kind == "keyword":
        strings = tuple(v for v in values if isinstance(v, str))
        if len(strings) != len(values):
            wrong = [v for v in values if not isinstance(v, str)]
            raise InvalidInputError(
                f"`{where}`: {key!r} is a keyword field; match it with strings, not {wrong}.", field=where
            )
        return strings
    # bool is an int subclass in Python: refuse it explicitly, or `true` would match 1.
    ints = tuple(v for v in values if isinstance(v, int) and not isinstance(v, bool) and _INT64[0] <= v <= _INT64[1])
    if len(ints) != len(values):
        wrong = [v for v in values if v not in ints or isinstance(v, bool)]
        raise InvalidInputError(
            f"`{where}`: {key!r} is an integer field; match it with 64-bit integers, not {wrong}.", field=where
        )
    return ints
