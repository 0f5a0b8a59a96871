"""Decoding untrusted image bytes with bounds: size, pixels, and sniffed format."""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaError

# Formats Pillow may decode for us. SVG is not among them: it is never rendered from uploads.
ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"})
_DATA_URL = re.compile(r"^data:(?P<mime>[\w/+.-]*)(?P<b64>;base64)?,(?P<data>.*)$", re.DOTALL)


def decode_image(data: bytes, *, max_bytes: int, max_pixels: int, name: str = "image") -> Image.Image:
    """Decode `data` into an RGB image on white, refusing what is too big or not an image.

    The pixel count is checked from the header, before the pixels are decoded, so a
    decompression bomb costs nothing.
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
            img = Image.open(io.BytesIO(data))
            fmt = img.format or ""
            if fmt not in ALLOWED_FORMATS:
                raise UnsupportedMediaError(
                    f"`{name}` is {fmt or 'an unknown format'}; send one of {sorted(ALLOWED_FORMATS)}.",
                    field=name,
                )
            width, height = img.size
            if width * height > max_pixels:
                raise PayloadTooLargeError(
                    f"`{name}` is {width}x{height} = {width * height} pixels; the limit is "
                    f"{max_pixels} (MAX_IMAGE_PIXELS).",
                    field=name,
                    limit=max_pixels,
                )
            img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        # Pillow's own bound (Image.MAX_IMAGE_PIXELS) caught it before ours: still too many pixels.
        raise PayloadTooLargeError(
            f"`{name}` has too many pixels; the limit is {max_pixels} (MAX_IMAGE_PIXELS): {e}",
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


def to_rgb(img: Image.Image) -> Image.Image:
    """Upright RGB; transparent areas become white (clip art is mostly transparent PNG)."""
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return img.convert("RGB")


def decode_data_url(url: str, *, max_bytes: int, max_pixels: int, name: str) -> Image.Image:
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
    return decode_image(raw, max_bytes=max_bytes, max_pixels=max_pixels, name=name)


def load_image_file(path: Path, *, max_bytes: int, max_pixels: int) -> Image.Image:
    return decode_image(path.read_bytes(), max_bytes=max_bytes, max_pixels=max_pixels, name=path.name)
