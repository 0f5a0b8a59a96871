"""Masks for edits (white = edit, black = keep): checking one a request sends, fitting the
output size to the base, and pasting a result back onto the original outside the mask.

Pure functions on PIL images and numbers; the service calls them at submit (a bad mask is a
422 naming `mask` before anything is queued) and SDXL calls `paste_back` on every result.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from app.errors import InvalidInputError

# A mask may be a little off the base's aspect (a canvas rounded to whole pixels).
ASPECT_TOLERANCE = 0.02
# After the threshold at 50 %, at most this share of pixels may have been grey (64..191):
# anti-aliased brush edges are fine, a photograph or a soft gradient sent as a mask is not.
MAX_GREY_SHARE = 0.10
GREY_LOW, GREY_HIGH = 64, 191
# The paste-back edge fades over this share of the short side (at least one pixel), inward.
FEATHER_SHARE = 1 / 64


def _ratio_off(a: tuple[int, int], b: tuple[int, int]) -> float:
    """How far the aspect of size `a` is from that of `b`, relative to `b`'s."""
    ra, rb = a[0] / a[1], b[0] / b[1]
    return abs(ra - rb) / rb


def check_mask(mask: Image.Image, base_size: tuple[int, int], *, allow_full: bool = False) -> Image.Image:
    """The request's mask as a binary "L" image (0 keep / 255 edit) at `base_size`; 422 naming
    `mask` if its aspect differs from the base's, it is not black and white, it selects
    nothing, or (without `allow_full`) everything."""
    if _ratio_off(mask.size, base_size) > ASPECT_TOLERANCE:
        raise InvalidInputError(
            f"`mask` is {mask.width}x{mask.height} but `baseImage` is {base_size[0]}x{base_size[1]}: "
            "the mask needs the base's aspect ratio (it is resized to the base).",
            field="mask",
            mask_size=list(mask.size),
            base_size=list(base_size),
        )
    grey = np.asarray(mask.convert("L"))
    grey_share = float(np.count_nonzero((grey >= GREY_LOW) & (grey <= GREY_HIGH))) / grey.size
    if grey_share > MAX_GREY_SHARE:
        raise InvalidInputError(
            f"`mask` is not black and white: {grey_share:.0%} of its pixels are grey (at most "
            f"{MAX_GREY_SHARE:.0%}). Paint the area to edit white and the rest black.",
            field="mask",
        )
    binary = Image.fromarray(np.where(grey >= 128, 255, 0).astype(np.uint8), "L")
    if binary.size != base_size:
        # Nearest keeps it binary; re-thresholding after a smooth resize would do the same work.
        binary = binary.resize(base_size, Image.Resampling.NEAREST)
    edit = np.asarray(binary) > 0
    if not edit.any():
        raise InvalidInputError("`mask` is empty: it has no white pixels, so there is nothing to edit.", field="mask")
    if edit.all() and not allow_full:
        raise InvalidInputError(
            "`mask` is all white: it would repaint the whole picture (a transparent background counts as "
            "white; paint what to keep black). Send `allowFullMask: true` if that is what you want.",
            field="mask",
        )
    return binary


def base_output_size(base: tuple[int, int], longest: int, multiple: int) -> tuple[int, int]:
    """An output size with the base's aspect: its longest side `longest`, both sides
    multiples of `multiple` (at least one multiple)."""
    if longest < multiple:
        raise ValueError(f"`longest` ({longest}) must be at least `multiple` ({multiple}).")
    scale = longest / max(base)

    def side(x: int) -> int:
        return max(multiple, int(round(x * scale / multiple)) * multiple)

    return side(base[0]), side(base[1])


def check_base_aspect(base: tuple[int, int], width: int, height: int) -> None:
    """An explicit output size must keep the base's aspect (nothing is stretched)."""
    if _ratio_off((width, height), base) > ASPECT_TOLERANCE:
        raise InvalidInputError(
            f"`baseImage` is {base[0]}x{base[1]} but `width` and `height` are {width}x{height}: leave them out "
            "to take the base's aspect, or send a size with its aspect.",
            field="baseImage",
            base_size=list(base),
        )


def feather(mask: Image.Image, radius: float | None = None) -> np.ndarray:
    """Paste-back weights in [0, 1] from a binary mask: exactly 0 outside it (unmasked pixels
    stay the original's), rising to 1 over about `radius` pixels inside its edge."""
    if radius is None:
        radius = max(1.0, min(mask.size) * FEATHER_SHARE)
    binary = np.asarray(mask.convert("L"), dtype=np.float32) / 255.0 >= 0.5
    blurred = np.asarray(mask.convert("L").filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255.0
    # A symmetric blur is 0.5 on a straight edge: stretch its inner half to 0..1, so the fade
    # lies inside the mask, and zero everything outside.
    weights = np.clip(2.0 * blurred - 1.0, 0.0, 1.0)
    return np.where(binary, weights, 0.0).astype(np.float32)


def paste_back(original: Image.Image, result: Image.Image, mask: Image.Image) -> Image.Image:
    """`result` inside the mask, `original` outside, with a feathered edge; all at `result`'s
    size (the original and the mask are resized to it)."""
    size = result.size
    base = np.asarray(original.convert("RGB").resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    made = np.asarray(result.convert("RGB"), dtype=np.float32)
    weights = feather(mask.convert("L").resize(size, Image.Resampling.NEAREST))[..., None]
    mixed = base * (1.0 - weights) + made * weights
    return Image.fromarray(np.clip(np.rint(mixed), 0, 255).astype(np.uint8), "RGB")
