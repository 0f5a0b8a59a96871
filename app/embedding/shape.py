"""The `shape` view: a weight-free HOG of the normalised line drawing, and its learned projection.

The `edge` view sees a normalised line drawing (app/embedding/edges.py: a picture's edge
map, or a sketch normalised the same way) through the image tower. This describes the same
drawing with a histogram of oriented gradients instead — no network — so it means the same
with random or real CLIP weights. Descriptors are L2-normalised, so Qdrant's cosine and a
dot product agree.

Size. skimage's HOG has (n − b + 1)² blocks of b² cells × `orientations` bins, with
n = size // cell cells a side and b = block: 128 px in 16-px cells is 8×8 cells, 7×7
blocks, 1,764 dims; 120 px in 24-px cells is 5×5 cells, 4×4 blocks, 576 dims.

Versions (`DESCRIPTORS`); a collection records the version its vectors were made with,
and a query is described with the collection's version (`descriptor_for`), so a
collection of an older version keeps answering until `clippy backfill --which shape`
rewrites its vectors (same size: in place).

* `hog-5x5-v1`: the 576-d HOG of 5×5 cells, blur 3. Chosen on the 1,000-item openclipart
  set of lightly jittered sketches (MRR 0.799 against 0.805 for the 1,764-d baseline).
* `hog-pca576-v2` (current): the 1,764-d HOG (8×8 cells, blur 3), signed square root,
  then a linear projection to 576 dims — PCA with partial whitening (each component divided
  by its standard deviation ** 0.3), fitted by scripts/eval_shape.py on the `tune` split of
  a hard sketch set (scripts/hard_sketches.py: public-domain clip art and photos, sketches
  with wobble, dropped, repeated and stray strokes, unfinished drawings, rotations and
  rescaling). Centring removes what every drawing shares (all HOG bins are positive, so
  raw cosines are dominated by it) and the square root damps the few dominant bins. On the
  held-out split mAP@10 is 0.750 against 0.634 for the 1,764-d HOG and 0.598 for v1; figures and
  provenance in `projections/shape_pca576_v2.json`, the table in bench/README.md.

Change any parameter and add a version: the collection and the embedding cache record it.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from app.embedding.base import l2_normalize
from app.embedding.edges import edge_map, normalize_sketch
from app.errors import ModelMismatchError

PROJECTIONS = Path(__file__).parent / "projections"


@dataclass(frozen=True)
class HogParams:
    size: int = 120  # the 224-px normalised drawing is resized to this side first
    orientations: int = 9
    cell: int = 24  # pixels per cell
    block: int = 2  # cells per block side
    blur: float = 3.0  # Gaussian sigma (pixels at `size`): tolerance for strokes a little off

    def __post_init__(self) -> None:
        if self.size < self.cell * self.block:
            raise ValueError(f"`size` must be at least `cell` * `block` = {self.cell * self.block} but is {self.size}")
        if self.orientations < 1 or self.cell < 1 or self.block < 1:
            raise ValueError(
                f"`orientations`, `cell` and `block` must be >= 1 but are "
                f"{self.orientations}, {self.cell} and {self.block}"
            )

    @property
    def dim(self) -> int:
        """Length of the descriptor (skimage's HOG layout, see the module docstring)."""
        blocks = self.size // self.cell - self.block + 1
        return blocks * blocks * self.block * self.block * self.orientations


SHAPE_PARAMS = HogParams()  # hog-5x5-v1's HOG; kept for collections of that version


@dataclass(frozen=True)
class ShapeDescriptor:
    """One version of the `shape` view: a HOG, optionally followed by a signed power and a
    linear projection (a package file under `projections/` with `mean` (in,) and `matrix` (in, out))."""

    version: str
    hog: HogParams
    power: float | None = None  # signed power of the HOG before the projection (0.5: square root)
    projection: str | None = None  # file name under PROJECTIONS
    out_dim: int | None = None  # the projection's output size (checked when it is loaded)

    @property
    def dim(self) -> int:
        return self.out_dim if self.projection and self.out_dim else self.hog.dim

    def record(self) -> dict[str, object]:
        """What a collection and the embedding cache record about vectors of this version."""
        rec: dict[str, object] = {"version": self.version, "descriptor": "hog", "dim": self.dim, **asdict(self.hog)}
        if self.projection:
            rec.update(power=self.power, projection=self.projection, projection_sha256=_projection(self.projection)[2])
        return rec

    def __post_init__(self) -> None:
        if (self.projection is None) != (self.out_dim is None):
            raise ValueError(f"`projection` and `out_dim` go together but are {self.projection!r} and {self.out_dim!r}")

    def describe(self, drawing: Image.Image) -> np.ndarray:
        """A normalised line drawing (dark lines on white) → this version's unit float32 vector."""
        features = hog_descriptor(drawing, self.hog)
        if self.power is not None:
            # Unit length again: the projection's mean was fitted on unit rows.
            features = l2_normalize((np.sign(features) * np.abs(features) ** self.power)[None, :])[0]
        if self.projection:
            mean, matrix, _ = _projection(self.projection)
            if matrix.shape != (features.shape[0], self.out_dim):
                raise ValueError(
                    f"{self.projection}: a ({features.shape[0]}, {self.out_dim}) matrix expected, found {matrix.shape}"
                )
            features = (features - mean) @ matrix
        unit: np.ndarray = l2_normalize(np.asarray(features, dtype=np.float32)[None, :])[0]
        return unit


@functools.cache
def _projection(name: str) -> tuple[np.ndarray, np.ndarray, str]:
    """A shipped projection (float32 mean and matrix) and the sha256 of its file."""
    path = PROJECTIONS / name
    raw = path.read_bytes()
    with np.load(path) as f:
        mean, matrix = np.asarray(f["mean"], dtype=np.float32), np.asarray(f["matrix"], dtype=np.float32)
    return mean, matrix, hashlib.sha256(raw).hexdigest()


DESCRIPTORS: dict[str, ShapeDescriptor] = {
    d.version: d
    for d in (
        ShapeDescriptor("hog-5x5-v1", SHAPE_PARAMS),
        ShapeDescriptor(
            "hog-pca576-v2",
            HogParams(size=128, orientations=9, cell=16, block=2, blur=3.0),
            power=0.5,
            projection="shape_pca576_v2.npz",
            out_dim=576,
        ),
    )
}
SHAPE_VERSION = "hog-pca576-v2"  # what ingest and backfill write
SHAPE = DESCRIPTORS[SHAPE_VERSION]


def descriptor_for(version: str | None) -> ShapeDescriptor:
    """The descriptor of a collection's recorded `shape` version (None: the current one)."""
    if version is None:
        return SHAPE
    found = DESCRIPTORS.get(version)
    if found is None:
        raise ModelMismatchError(
            f"The collection's `shape` vectors are of version {version!r}, which this code does not know "
            f"(it knows {sorted(DESCRIPTORS)}). Upgrade Clippy, or run `clippy backfill --which shape` "
            f"to rewrite them as {SHAPE_VERSION!r}.",
            shape_version=version,
        )
    return found


def shape_params_record(version: str = SHAPE_VERSION) -> dict[str, object]:
    """What a collection and the embedding cache record about the stored `shape` vectors."""
    return DESCRIPTORS[version].record()


def shape_descriptor(drawing: Image.Image, version: str = SHAPE_VERSION) -> np.ndarray:
    """The `shape` vector of a normalised line drawing, as collections of `version` store it."""
    return DESCRIPTORS[version].describe(drawing)


def hog_descriptor(drawing: Image.Image, params: HogParams = SHAPE_PARAMS) -> np.ndarray:
    """HOG of a normalised line drawing (dark lines on white), L2-normalised float32."""
    from skimage.feature import hog  # a slow import: only when a descriptor is computed

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
    features = np.asarray(features, dtype=np.float32)
    if float(ink.max()) < 0.01:
        # A blank drawing (a flat picture has no edges) has no orientation to prefer, and its
        # HOG is float noise that block normalisation blows up: a uniform unit vector instead.
        features = np.ones_like(features)
    unit: np.ndarray = l2_normalize(features[None, :])[0]
    return unit


def picture_descriptor(picture: Image.Image, params: HogParams = SHAPE_PARAMS) -> np.ndarray:
    """A library picture → its normalised edge map → HOG (the `edge` view's input, described)."""
    return hog_descriptor(edge_map(picture), params)


def sketch_descriptor(sketch: Image.Image, params: HogParams = SHAPE_PARAMS) -> np.ndarray:
    """A sketch → normalised like an edge map → HOG."""
    return hog_descriptor(normalize_sketch(sketch), params)
