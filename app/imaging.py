"""Decoding untrusted image bytes with bounds: size, pixels, and sniffed format."""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from PIL import Image, ImageOps, UnidentifiedImageError

from app.config import Settings
from app.errors import BusyError, InvalidInputError, PayloadTooLargeError, UnsupportedMediaError

# Formats Pillow may decode for us. SVG is not among them: it is never rendered from uploads.
ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"})
_DATA_URL = re.compile(r"^data:(?P<mime>[\w/+.-]*)(?P<b64>;base64)?,(?P<data>.*)$", re.DOTALL)


# Modes Image.reduce takes; others (palette, bilevel, 16-bit) are made RGB(A) first.
_REDUCIBLE = frozenset({"L", "LA", "RGB", "RGBA", "I", "F", "CMYK", "PA"})


def decode_image(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    name: str = "image",
    max_side: int | None = None,
    pixels_setting: str = "MAX_IMAGE_PIXELS",
) -> Image.Image:
    """Decode `data` into an RGB image on white, refusing what is too big or not an image.

    The pixel count is checked from the header, before the pixels are decoded, so a
    decompression bomb costs nothing. With `max_side`, the image comes back no larger than
    needed for that side (at most 2x it): a JPEG is decoded at 1/2, 1/4 or 1/8 scale directly
    (`draft`), other formats are box-reduced right after decoding, before any conversion, so
    a 6000x6000 upload costs one decoded copy, not several (docs/operations.md, cost model).
    `pixels_setting` names the setting `max_pixels` comes from in the 413.
    """
    if not data:
        raise InvalidInputError(f"`{name}` is empty.", field=name)
    if len(data) > max_bytes:
        raise PayloadTooLargeError(
            f"`{name}` is {len(data)} bytes; the limit is {max_bytes} bytes (MAX_UPLOAD_BYTES).",
            field=name,
            limit=max_bytes,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
            fmt = opened.format or ""
            if fmt not in ALLOWED_FORMATS:
                raise UnsupportedMediaError(
                    f"`{name}` is {fmt or 'an unknown format'}; send one of {sorted(ALLOWED_FORMATS)}.",
                    field=name,
                )
            width, height = opened.size
            if width * height > max_pixels:
                raise PayloadTooLargeError(
                    f"`{name}` is {width}x{height} = {width * height} pixels; the limit is "
                    f"{max_pixels} ({pixels_setting}).",
                    field=name,
                    limit=max_pixels,
                )
            img = _decode_at(opened, max_side)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        # Pillow's own bound (Image.MAX_IMAGE_PIXELS) caught it before ours: still too many pixels.
        raise PayloadTooLargeError(
            f"`{name}` has too many pixels; the limit is {max_pixels} ({pixels_setting}): {e}",
            field=name,
            limit=max_pixels,
        ) from e
    except UnidentifiedImageError as e:
        raise UnsupportedMediaError(
            f"`{name}` is not a readable image (the content is sniffed, not the name); send one of "
            f"{sorted(ALLOWED_FORMATS)}. SVG is not accepted: rasterise it first.",
            field=name,
        ) from e
    except (OSError, SyntaxError, ValueError) as e:
        # Truncated or corrupt files surface as OSError/SyntaxError from the decoders.
        raise UnsupportedMediaError(f"`{name}` is corrupt or truncated: {e}", field=name) from e
    return to_rgb(img)


def _decode_at(img: Image.Image, max_side: int | None) -> Image.Image:
    """Decode `img` (opened, not loaded), shrunk by whole factors toward `max_side`."""
    width, height = img.size
    if max_side is None or max(width, height) <= max_side:
        img.load()
        return img
    if img.format == "JPEG":
        scale = max_side / max(width, height)
        # draft picks the largest DCT scale that still gives at least the requested size.
        img.draft(img.mode, (math.ceil(width * scale), math.ceil(height * scale)))
    img.load()
    factor = max(img.size) // max_side
    if factor < 2:
        return img
    if img.mode not in _REDUCIBLE:
        # (reduce weights colour by alpha for RGBA and LA, so transparent edges stay clean.)
        transparent = img.mode == "P" and "transparency" in img.info
        img = img.convert("L" if img.mode == "1" else "RGBA" if transparent else "RGB")
    return img.reduce(factor)


def to_rgb(img: Image.Image) -> Image.Image:
    """Upright RGB; transparent areas become white (clip art is mostly transparent PNG)."""
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return img.convert("RGB")


def request_limits(settings: Settings, name: str, max_side: int) -> dict[str, Any]:
    """`decode_image` bounds for an image a request sends in field `name`: a sketch (a
    drawing from a canvas) is capped by MAX_SKETCH_PIXELS as well as MAX_IMAGE_PIXELS."""
    pixels, setting = settings.MAX_IMAGE_PIXELS, "MAX_IMAGE_PIXELS"
    if name == "sketch" and settings.MAX_SKETCH_PIXELS < pixels:
        pixels, setting = settings.MAX_SKETCH_PIXELS, "MAX_SKETCH_PIXELS"
    return {
        "max_bytes": settings.MAX_UPLOAD_BYTES,
        "max_pixels": pixels,
        "pixels_setting": setting,
        "max_side": max_side,
        "name": name,
    }


def decode_data_url(
    url: str,
    *,
    max_bytes: int,
    max_pixels: int,
    name: str,
    max_side: int | None = None,
    pixels_setting: str = "MAX_IMAGE_PIXELS",
) -> Image.Image:
    match = _DATA_URL.match(url.strip())
    if not match or not match.group("b64"):
        raise InvalidInputError(f"`{name}` must be a base64 data URL (data:image/png;base64,...).", field=name)
    # Four base64 characters carry three bytes: refuse oversized input before decoding it.
    if len(match.group("data")) * 3 // 4 > max_bytes:
        raise PayloadTooLargeError(
            f"`{name}` is larger than {max_bytes} bytes (MAX_UPLOAD_BYTES).", field=name, limit=max_bytes
        )
    try:
        raw = base64.b64decode(match.group("data"), validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidInputError(f"`{name}` is not valid base64: {e}", field=name) from e
    return decode_image(
        raw, max_bytes=max_bytes, max_pixels=max_pixels, name=name, max_side=max_side, pixels_setting=pixels_setting
    )


def load_image_file(path: Path, *, max_bytes: int, max_pixels: int) -> Image.Image:
    return decode_image(path.read_bytes(), max_bytes=max_bytes, max_pixels=max_pixels, name=path.name)


class ImageSlots:
    """At most `slots` requests decode and encode images at once (IMAGE_SLOTS).

    A decoded upload is the largest thing a request holds (a 6000x6000 PNG is ~150 MB before
    it is reduced), and an image encode holds its tensors: without a bound, forty at once
    take gigabytes. A request waits up to `wait_s` for a slot, then gets 503 `busy` with
    Retry-After, which clients and load balancers know to retry.
    """

    def __init__(self, slots: int, wait_s: float) -> None:
        self.slots = slots
        self.wait_s = wait_s
        self._semaphore = anyio.Semaphore(slots)

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        try:
            self._semaphore.acquire_nowait()
        except anyio.WouldBlock:
            with anyio.move_on_after(self.wait_s) as waited:
                await self._semaphore.acquire()
            if waited.cancelled_caught:
                raise BusyError(
                    f"All {self.slots} image slots are busy (IMAGE_SLOTS) and none freed in "
                    f"{self.wait_s:g} s (IMAGE_SLOT_WAIT_S); retry shortly.",
                    retry_after=max(1, math.ceil(self.wait_s)),
                ) from None
        try:
            yield
        finally:
            self._semaphore.release()
