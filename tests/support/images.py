"""Synthetic pictures (shapes with known tags), their encodings, and planted near-copies."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def shape_image(kind: int, seed: int, size: int = 96) -> Image.Image:
    """A synthetic picture: one of several shapes, position/colour varied by seed."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (size, size), tuple(int(c) for c in rng.integers(200, 256, 3)))
    draw = ImageDraw.Draw(img)
    colour = tuple(int(c) for c in rng.integers(0, 160, 3))
    x0, y0 = (int(v) for v in rng.integers(5, size // 3, 2))
    x1, y1 = (int(v) for v in rng.integers(2 * size // 3, size - 5, 2))
    match kind % 5:
        case 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour, outline=(0, 0, 0), width=2)
        case 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour, outline=(0, 0, 0), width=2)
        case 2:
            draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=colour, outline=(0, 0, 0))
        case 3:
            draw.text((x0, y0), f"T{seed}", fill=colour)
            draw.line((x0, y1, x1, y0), fill=colour, width=4)
        case _:
            noise = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            img = Image.fromarray(noise)
    return img


SHAPE_TAGS = {
    0: ["circle", "round"],
    1: ["square", "box"],
    2: ["triangle", "pointy"],
    3: ["text", "line"],
    4: ["noise"],
}


def data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


# The near copy scores ≥ 0.9999 to its original; unrelated shape pictures stay below 0.999.
NEAR_THRESHOLD = 0.9995


def near_copy(original: Path) -> bytes:
    """Resized by 5/6 and re-encoded as JPEG: different bytes, the same picture."""
    with Image.open(original) as img:
        small = img.convert("RGB").resize((img.width * 5 // 6, img.height * 5 // 6), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, format="JPEG", quality=90)
    return buf.getvalue()
