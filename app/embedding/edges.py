"""Edge maps of pictures and normalisation of sketches, so both meet in the `edge` view.

A picture becomes dark lines on white (grey → denoise → Canny with thresholds taken from
the image's own median → invert); a sketch is already dark lines on white. Both then go
through `normalize_lines`: crop to the ink, pad to a square, resize, and redraw every
stroke at one width, so a sketch and the edge map of the same shape look alike to the
image tower. Change any parameter and bump `EDGE_VERSION`: the collection records it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class EdgeParams:
    size: int = 224  # side of the normalised square
    margin: float = 0.08  # white margin around the ink, as a fraction of the side
    stroke: int = 3  # stroke width after normalisation, in pixels at `size`
    sigma: float = 0.33  # Canny thresholds at median * (1 ± sigma)
    blur: int = 5  # Gaussian kernel before Canny; removes texture and JPEG noise
    max_side: int = 512  # pictures are downscaled to this before edge detection
    ink_threshold: int = 160  # grey level below which a sketch pixel counts as ink


EDGE_PARAMS = EdgeParams()
EDGE_VERSION = "canny-median-v1"


def edge_params_record(params: EdgeParams = EDGE_PARAMS) -> dict[str, object]:
    return {"version": EDGE_VERSION, **asdict(params)}


def _grey(img: Image.Image, max_side: int) -> np.ndarray:
    grey: np.ndarray = np.asarray(img.convert("L"), dtype=np.uint8)
    h, w = grey.shape
    scale = max_side / max(h, w)
    if scale < 1:
        grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return grey


def canny_lines(img: Image.Image, params: EdgeParams = EDGE_PARAMS) -> np.ndarray:
    """Boolean ink mask of the picture's edges (True = line)."""
    grey = _grey(img, params.max_side)
    blurred = cv2.GaussianBlur(grey, (params.blur, params.blur), 0)
    median = float(np.median(blurred))
    lower = int(max(0, (1.0 - params.sigma) * median))
    upper = int(min(255, (1.0 + params.sigma) * median))
    if upper - lower < 10:
        # Flat pictures (clip art on white) have a median at the extremes; widen the band so
        # real contours still pass.
        lower, upper = 50, 150
    edges = cv2.Canny(blurred, lower, upper, L2gradient=True)
    return edges > 0


def sketch_ink(img: Image.Image, params: EdgeParams = EDGE_PARAMS) -> np.ndarray:
    """Boolean ink mask of a drawing: dark strokes on a light background."""
    grey = _grey(img, params.max_side)
    if float(np.mean(grey)) < 128:
        grey = 255 - grey  # light strokes on a dark canvas: flip so ink is dark
    return grey < params.ink_threshold


def normalize_lines(ink: np.ndarray, params: EdgeParams = EDGE_PARAMS) -> Image.Image:
    """Crop to the ink, pad to a square, resize, and redraw strokes at one width."""
    size = params.size
    canvas: np.ndarray = np.full((size, size), 255, dtype=np.uint8)
    ys, xs = np.nonzero(ink)
    if len(xs) == 0:
        return Image.fromarray(canvas).convert("RGB")
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.uint8) * 255
    h, w = crop.shape
    inner = max(1, round(size * (1 - 2 * params.margin)))
    scale = inner / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    # INTER_AREA keeps thin strokes alive when shrinking; any non-zero pixel stays ink.
    resized = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA) > 0
    skeleton = _thin(resized)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    mask: np.ndarray = np.zeros((size, size), dtype=np.uint8)
    mask[y0 : y0 + nh, x0 : x0 + nw] = skeleton.astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (params.stroke, params.stroke))
    mask = cv2.dilate(mask, kernel)
    canvas[mask > 0] = 0
    return Image.fromarray(canvas).convert("RGB")


def _thin(mask: np.ndarray) -> np.ndarray:
    # Imported here: scikit-image is only needed once lines are normalised, and its import
    # is slow enough to matter for CLI start-up.
    from skimage.morphology import skeletonize

    return np.asarray(skeletonize(mask), dtype=bool)  # type: ignore[no-untyped-call]


def edge_map(img: Image.Image, params: EdgeParams = EDGE_PARAMS) -> Image.Image:
    """A picture's edge map, normalised like a sketch."""
    return normalize_lines(canny_lines(img, params), params)


def normalize_sketch(img: Image.Image, params: EdgeParams = EDGE_PARAMS) -> Image.Image:
    """A drawn sketch, normalised like an edge map."""
    return normalize_lines(sketch_ink(img, params), params)
