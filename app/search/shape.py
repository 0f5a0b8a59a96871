"""A weight-free structure descriptor: HOG over the normalised line drawing.

The `edge` view meets sketches and pictures as normalised line drawings (app/embedding/
edges.py) seen through the image tower. This module describes the same drawings with a
histogram of oriented gradients instead — no learned weights — so the edge pipeline has a
baseline that means something even where only random model weights exist. Compare two
descriptors with a dot product: they are L2-normalised, so that is their cosine.

It is an evaluation baseline (scripts/evaluate.py), not a stored view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np
from PIL import Image

from app.embedding.base import l2_normalize
from app.embedding.edges import edge_map, normalize_sketch


@dataclass(frozen=True)
class HogParams:
    size: int = 128  # the 224-px normalised drawing is resized to this side first
    orientations: int = 9
    cell: int = 16  # pixels per cell
    block: int = 2  # cells per block side
    blur: float = 2.0  # Gaussian sigma (pixels at `size`): tolerance for strokes a little off

    def __post_init__(self) -> None:
        if self.size < self.cell * self.block:
            raise ValueError(f"`size` must be at least `cell` * `block` = {self.cell * self.block} but is {self.size}")
        if self.orientations < 1 or self.cell < 1 or self.block < 1:
            raise ValueError(
                f"`orientations`, `cell` and `block` must be >= 1 but are "
                f"{self.orientations}, {self.cell} and {self.block}"
            )


HOG_PARAMS = HogParams()


def hog_params_record(params: HogParams = HOG_PARAMS) -> dict[str, object]:
    return {"descriptor": "hog", **asdict(params)}


def hog_descriptor(drawing: Image.Image, params: HogParams = HOG_PARAMS) -> np.ndarray:
    """HOG of a normalised line drawing (dark lines on white), L2-normalised float32."""
    from skimage.feature import hog  # slow import; only the evaluation needs it

    grey = np.asarray(drawing.convert("L"), dtype=np.float32) / 255.0
    ink: np.ndarray = 1.0 - np.asarray(
        cv2.resize(grey, (params.size, params.size), interpolation=cv2.INTER_AREA), dtype=np.float32
    )
    if params.blur > 0:
        ink = np.asarray(cv2.GaussianBlur(ink, (0, 0), params.blur), dtype=np.float32)
    features = hog(
        ink,
        orientations=params.orientations,
        pixels_per_cell=(params.cell, params.cell),
        cells_per_block=(params.block, params.block),
        block_norm="L2-Hys",
        feature_vector=True,
    )
    unit: np.ndarray = l2_normalize(np.asarray(features, dtype=np.float32)[None, :])[0]
    return unit


def picture_descriptor(picture: Image.Image, params: HogParams = HOG_PARAMS) -> np.ndarray:
    """A library picture → its normalised edge map → HOG (the `edge` view's input, described)."""
    return hog_descriptor(edge_map(picture), params)


def sketch_descriptor(sketch: Image.Image, params: HogParams = HOG_PARAMS) -> np.ndarray:
    """A sketch → normalised like an edge map → HOG."""
    return hog_descriptor(normalize_sketch(sketch), params)


def rank_by_cosine(query: np.ndarray, library: np.ndarray, ids: Sequence[str], limit: int) -> list[tuple[str, float]]:
    """Exact top-`limit` of `library` rows (unit) by cosine with `query` (unit), ties by id."""
    if library.ndim != 2 or library.shape[0] != len(ids):
        raise ValueError(f"`library` must have one row per id: shape {library.shape}, {len(ids)} ids")
    if limit < 1:
        raise ValueError(f"`limit` must be >= 1 but is {limit}")
    scores = library @ query
    order = sorted(range(len(ids)), key=lambda i: (-float(scores[i]), ids[i]))[:limit]
    return [(ids[i], float(scores[i])) for i in order]
