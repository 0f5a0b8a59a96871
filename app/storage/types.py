"""Store-neutral types: what app/search and app/ingest hand to a store, whichever backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

# `shape` is the weight-free HOG of the `edge` view's line drawing (app/embedding/shape.py).
DENSE_VIEWS = ("image", "edge", "text", "shape")
SPARSE_VIEWS = ("tags",)
ALL_VIEWS = DENSE_VIEWS + SPARSE_VIEWS


@dataclass(frozen=True)
class Sparse:
    indices: list[int]
    values: list[float]


Vector = list[float] | Sparse


@dataclass
class PointRecord:
    """One library item to write: its id, named vectors (dense and sparse) and payload."""

    id: str
    vectors: dict[str, Vector]
    payload: dict[str, Any]


@dataclass
class StoredPoint:
    id: str
    payload: dict[str, Any]
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # dense views only


@dataclass
class ScoredPoint:
    id: str
    score: float
    payload: dict[str, Any] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)


# --- filters: a small tree each backend translates to its own client types ---------------


@dataclass(frozen=True)
class MatchAny:
    key: str
    values: tuple[str | int | bool, ...]


@dataclass(frozen=True)
class Range:
    key: str
    gte: float | None = None
    lte: float | None = None


@dataclass(frozen=True)
class HasId:
    ids: tuple[str, ...]


Condition = MatchAny | Range | HasId


@dataclass(frozen=True)
class Filter:
    must: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.must or self.must_not)

    def and_(self, other: Filter | None) -> Filter:
        if other is None:
            return self
        return Filter(must=self.must + other.must, must_not=self.must_not + other.must_not)


# --- queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewQuery:
    """Nearest neighbours of `vector` in the named vector `view`."""

    view: str
    vector: Vector
    limit: int


Fusion = Literal["dbsf", "rrf"]


@dataclass
class RankedList:
    """One view's nearest points, best first: ids and scores only."""

    ids: list[str]
    scores: np.ndarray  # float64, descending

    @classmethod
    def of(cls, points: Sequence[ScoredPoint]) -> RankedList:
        return cls([p.id for p in points], np.array([p.score for p in points], dtype=np.float64))

    def __len__(self) -> int:
        return len(self.ids)


# --- what both backends do with their clients' answers ------------------------------------


def dense_vectors(raw: Any) -> dict[str, np.ndarray]:
    """A client's named vectors → the dense views as float32 arrays (sparse ones dropped)."""
    if not isinstance(raw, dict):
        return {}
    return {k: np.asarray(v, dtype=np.float32) for k, v in raw.items() if k in DENSE_VIEWS and isinstance(v, list)}


def vector_selection(with_vectors: bool | Sequence[str]) -> bool | list[str]:
    return with_vectors if isinstance(with_vectors, bool) else list(with_vectors)


@dataclass(frozen=True)
class VectorStorage:
    """How a created collection keeps its dense views (QUANTIZATION, VECTORS_ON_DISK,
    QUANTIZATION_OVERSAMPLING): int8 scalar quantization in RAM searched with oversampling and
    rescored on the originals, which may live on disk."""

    quantization: Literal["none", "int8"] = "none"
    on_disk: bool = False
    oversampling: float = 2.0

    @classmethod
    def from_settings(cls, settings: Any) -> VectorStorage:
        return cls(settings.QUANTIZATION, settings.VECTORS_ON_DISK, settings.QUANTIZATION_OVERSAMPLING)

    @property
    def quantized(self) -> bool:
        return self.quantization != "none"
