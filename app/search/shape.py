"""The HOG evaluation baseline, and exact cosine ranking for it.

The descriptor itself is the `shape` view's (app/embedding/shape.py). The evaluation keeps
its first, finer settings (`HOG_PARAMS`: 8×8 cells, 1,764 dims) as a fixed baseline, so its
figures stay comparable across changes to the stored view's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import numpy as np
from PIL import Image

from app.embedding.shape import HogParams, hog_descriptor
from app.embedding.shape import picture_descriptor as _picture
from app.embedding.shape import sketch_descriptor as _sketch

__all__ = [
    "HOG_PARAMS",
    "HogParams",
    "hog_descriptor",
    "hog_params_record",
    "picture_descriptor",
    "rank_by_cosine",
    "sketch_descriptor",
]

HOG_PARAMS = HogParams(size=128, orientations=9, cell=16, block=2, blur=2.0)


def hog_params_record(params: HogParams = HOG_PARAMS) -> dict[str, object]:
    return {"descriptor": "hog", **asdict(params)}


def picture_descriptor(picture: Image.Image, params: HogParams = HOG_PARAMS) -> np.ndarray:
    return _picture(picture, params)


def sketch_descriptor(sketch: Image.Image, params: HogParams = HOG_PARAMS) -> np.ndarray:
    return _sketch(sketch, params)


def rank_by_cosine(query: np.ndarray, library: np.ndarray, ids: Sequence[str], limit: int) -> list[tuple[str, float]]:
    """Exact top-`limit` of `library` rows (unit) by cosine with `query` (unit), ties by id."""
    if library.ndim != 2 or library.shape[0] != len(ids):
        raise ValueError(f"`library` must have one row per id: shape {library.shape}, {len(ids)} ids")
    if limit < 1:
        raise ValueError(f"`limit` must be >= 1 but is {limit}")
    scores = library @ query
    order = sorted(range(len(ids)), key=lambda i: (-float(scores[i]), ids[i]))[:limit]
    return [(ids[i], float(scores[i])) for i in order]
