"""A hard sketch set, built at run time from public-domain pictures installed on this machine.

The 1,000-item set of scripts/make_eval_set.py draws each sketch as the clip art's clean
outline under one small affine jitter: a descriptor tuned there learns little about the
sketches people draw. Here every sketch is drawn badly in the ways people do, stroke by
stroke:

* **wobble**: each stroke moved a little on its own, and the whole drawing bent
  by a smooth random displacement field (a hand that is not a plotter);
* **dropped strokes** (a detail left out) and **partial drawings** (the last strokes in
  drawing order never drawn: an unfinished sketch);
* **over-sketching**: strokes drawn again, slightly off; **extra strokes**: stray lines
  and scribbles that are not in the picture;
* **varying stroke width**, per stroke and overall;
* **global changes**: rotations up to ±12°, shifts, scale and aspect changes, shear.

Sources, both public domain, both installed by packages (nothing is downloaded):
* Debian's ``openclipart-svg`` (``/usr/share/openclipart/svg``; only files whose metadata
  says public domain are used, scripts/clipart.py checks it), rendered with cairosvg: the
  library picture is the filled render, the query a distorted line drawing of its shapes;
* scikit-image's sample photographs with a public-domain or CC0 licence (``PHOTOS``): the
  query is the photo's own edge map, distorted in the raster (wobble, dropped pieces,
  width, rotation), since a photo has no strokes to redraw.

Every source goes to the ``tune`` or the ``held-out`` split by a hash of its name and the
seed, never both, so a descriptor tuned (or a projection fitted) on one split is judged on
pictures it has never seen. Images are rendered into a cache folder (``--cache``), not
into the repository; the same arguments give the same set on any machine.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import math
import random
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from clipart import (
    DEFAULT_SOURCE,
    MIN_INK_FRACTION,
    OBJECT_CATEGORIES,
    PUBLIC_DOMAIN,
    SVG_NS,
    ClipArtError,
    Jitter,
    frame_content,
    ink_fraction,
    linear_scale,
    list_svgs,
    parse_svg,
    read_clipart,
    render,
    stroke_px_for,
    to_line_art,
    viewbox_of,
)

log = logging.getLogger(__name__)

SET_VERSION = "hard-sketches-v2"
SPLITS = ("tune", "held-out")
# scikit-image sample photographs whose docstrings state public domain or CC0.
PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "text", "hubble_deep_field", "retina", "brick")
_SHAPES = frozenset({"path", "rect", "circle", "ellipse", "line", "polyline", "polygon"})


def split_of(name: str, seed: int) -> str:
    """`tune` or `held-out`, fixed by the source's name and the seed (half each)."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return SPLITS[digest[0] & 1]


@dataclass(frozen=True)
class Distortion:
    """How badly one sketch is drawn (see the module docstring); drawn at random per query."""

    drop: float = 0.0  # chance that a stroke is left out
    partial: float = 0.0  # share of strokes, last in drawing order, never drawn
    repeat: float = 0.0  # chance that a stroke is drawn again, slightly off
    stroke_shift: float = 0.0  # per-stroke random shift, fraction of the picture's side
    width_spread: float = 0.0  # per-stroke width multiplier in [1 - s, 1 + s]
    extra: int = 0  # stray strokes added
    wobble: float = 0.0  # amplitude of the smooth displacement field, fraction of the side
    jitter: Jitter = Jitter()

    @classmethod
    def random(cls, rng: random.Random) -> Distortion:
        """Each kind of mistake with its own chance, so queries mix them; the sketch still
        shows the picture to a person (checked by eye on a sample, see the eval README)."""

        def maybe(p: float, lo: float, hi: float) -> float:
            return rng.uniform(lo, hi) if rng.random() < p else 0.0

        s = rng.uniform(0.8, 1.1)
        aspect = rng.uniform(0.88, 1.12)
        return cls(
            drop=maybe(0.6, 0.05, 0.25),
            partial=maybe(0.35, 0.1, 0.3),
            repeat=maybe(0.5, 0.15, 0.5),
            stroke_shift=maybe(0.8, 0.005, 0.025),
            width_spread=maybe(0.6, 0.2, 0.6),
            extra=rng.choice((0, 0, 1, 2, 3, 5)),
            wobble=maybe(0.7, 0.005, 0.02),
            jitter=Jitter(
                angle_deg=rng.uniform(-12.0, 12.0),
                scale_x=s * math.sqrt(aspect),
                scale_y=s / math.sqrt(aspect),
                shear=rng.uniform(-0.1, 0.1),
                shift_x=rng.uniform(-0.08, 0.08),
                shift_y=rng.uniform(-0.08, 0.08),
                stroke=rng.uniform(0.6, 2.2),
            ),
        )


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _strokes(root: ET.Element) -> list[tuple[ET.Element, ET.Element, float]]:
    """(parent, shape, scale of its user units) for every drawn shape, in drawing order."""
    out: list[tuple[ET.Element, ET.Element, float]] = []

    def visit(el: ET.Element, scale: float) -> None:
        for child in list(el):
            tag = _local(child.tag)
            if tag in ("clipPath", "defs", "mask", "linearGradient", "radialGradient", "pattern", "metadata"):
                continue
            here = scale * linear_scale(child.get("transform"))
            if tag in _SHAPES:
                out.append((el, child, here))
            else:
                visit(child, here)

    visit(root, 1.0)
    return out


def _set_width(el: ET.Element, factor: float) -> None:
    style = el.get("style") or ""
    parts = []
    for item in style.split(";"):
        key, _, value = item.partition(":")
        if key.strip() == "stroke-width":
            try:
                value = f"{float(value) * factor:.6g}"
            except ValueError:
                pass
        parts.append(f"{key}:{value}" if _ else item)
    el.set("style", ";".join(parts))


def distort_line_art(line_art: ET.Element, d: Distortion, stroke_user: float, rng: random.Random) -> ET.Element:
    """The stroke-level mistakes of `d` applied to a line-art tree (scripts/clipart.py's
    `to_line_art`, whose shapes each carry their own stroke width)."""
    root = copy.deepcopy(line_art)
    x, y, w, h = viewbox_of(root)
    side = max(w, h)
    strokes = _strokes(root)
    if not strokes:
        return root
    keep_n = max(1, round(len(strokes) * (1 - d.partial)))
    for i, (parent, shape, scale) in enumerate(strokes):
        if i >= keep_n or (rng.random() < d.drop and len(strokes) > 2):
            parent.remove(shape)
            continue
        copies = [shape]
        if rng.random() < d.repeat:
            again = copy.deepcopy(shape)
            parent.insert(list(parent).index(shape) + 1, again)
            copies.append(again)
        for el in copies:
            if d.width_spread:
                _set_width(el, rng.uniform(1 - d.width_spread, 1 + d.width_spread))
            dx = rng.gauss(0, d.stroke_shift) * side / max(scale, 1e-9)
            dy = rng.gauss(0, d.stroke_shift) * side / max(scale, 1e-9)
            if dx or dy:
                # A shift in the stroke's own user units (their scale is known, their origin
                # is not, so strokes are moved, not turned: the wobble field bends them).
                el.set("transform", f"translate({dx:.4f} {dy:.4f}) {el.get('transform', '')}".strip())
    for _ in range(d.extra):
        # A stray curve somewhere over the drawing, drawn like the rest.
        pts = [(x + rng.uniform(0.1, 0.9) * w, y + rng.uniform(0.1, 0.9) * h) for _ in range(3)]
        path = ET.SubElement(root, f"{{{SVG_NS}}}path")
        path.set(
            "d", f"M {pts[0][0]:.3f} {pts[0][1]:.3f} Q {pts[1][0]:.3f} {pts[1][1]:.3f} {pts[2][0]:.3f} {pts[2][1]:.3f}"
        )
        path.set(
            "style",
            f"fill:none;stroke:#000000;stroke-width:{stroke_user:.6g};stroke-linecap:round;stroke-linejoin:round",
        )
    return root


def wobble(image: Image.Image, amplitude: float, rng: random.Random) -> Image.Image:
    """Bend a drawing by a smooth random displacement field (`amplitude`: fraction of the side)."""
    if amplitude <= 0:
        return image
    grey = np.asarray(image.convert("L"), dtype=np.uint8)
    h, w = grey.shape
    nrng = np.random.default_rng(rng.getrandbits(32))
    sigma = max(h, w) / 12
    field = []
    for _ in range(2):
        noise = cv2.GaussianBlur(nrng.standard_normal((h, w)).astype(np.float32), (0, 0), sigma)
        noise /= float(np.abs(noise).max()) + 1e-9
        field.append(noise * amplitude * max(h, w))
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    out = cv2.remap(grey, gx + field[0], gy + field[1], cv2.INTER_LINEAR, borderValue=255)
    return Image.fromarray(out).convert("RGB")


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@dataclass(frozen=True)
class Job:
    name: str  # source id: path under the openclipart source, or "skimage:<photo>"
    path: str  # the SVG (empty for photos)
    size: int
    seed: int
    sketches: int


@dataclass(frozen=True)
class Rendered:
    name: str
    picture: bytes | None = None
    sketches: tuple[bytes, ...] = ()
    reason: str = ""
    clean: bytes | None = None  # the undistorted line art: a check that easy sketches still work


def _clipart_job(job: Job) -> Rendered:
    try:
        raw = parse_svg(Path(job.path).read_bytes())
        art = read_clipart(Path(job.path), Path(job.path).parent, raw)
        if art.license != PUBLIC_DOMAIN:
            return Rendered(job.name, reason="not public domain")
        root, px_per_unit, filled = frame_content(raw, job.size)
        if ink_fraction(filled) < MIN_INK_FRACTION:
            return Rendered(job.name, reason="blank render")
        stroke_user = stroke_px_for(job.size) / px_per_unit
        sketches = []
        for k in range(job.sketches):
            rng = random.Random(f"{job.seed}:{job.name}:{k}")
            d = Distortion.random(rng)
            line_art = distort_line_art(to_line_art(root, stroke_user, d.jitter), d, stroke_user * d.jitter.stroke, rng)
            sketch = wobble(render(line_art), d.wobble, rng)
            if ink_fraction(sketch) < MIN_INK_FRACTION:
                return Rendered(job.name, reason="blank sketch")
            sketches.append(_png(sketch.convert("L")))
        clean = render(to_line_art(root, stroke_user))
        return Rendered(job.name, _png(filled), tuple(sketches), clean=_png(clean.convert("L")))
    except (ClipArtError, OSError, ValueError, ET.ParseError, RecursionError) as e:
        return Rendered(job.name, reason=f"{type(e).__name__}: {e}")


def _photo_sketch(photo: Image.Image, rng: random.Random) -> Image.Image:
    """A photo's edge map drawn badly: pieces left out, width changed, turned, bent."""
    from app.embedding.edges import canny_lines

    ink = canny_lines(photo).astype(np.uint8)
    count, labels = cv2.connectedComponents(ink)
    drop = rng.uniform(0.05, 0.3)
    gone = [i for i in range(1, count) if rng.random() < drop]
    if gone and len(gone) < count - 1:
        ink[np.isin(labels, gone)] = 0
    width = rng.choice((1, 2, 3, 4))
    if width > 1:
        ink = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width)))
    h, w = ink.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-12, 12), rng.uniform(0.85, 1.1))
    m[:, 2] += (rng.uniform(-0.06, 0.06) * w, rng.uniform(-0.06, 0.06) * h)
    canvas = np.where(ink > 0, 0, 255).astype(np.uint8)
    turned = cv2.warpAffine(canvas, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
    return wobble(Image.fromarray(turned), rng.uniform(0.005, 0.02), rng)


def _photo_job(job: Job) -> Rendered:
    import skimage.data

    arr = np.asarray(getattr(skimage.data, job.path)())
    photo = Image.fromarray(arr).convert("RGB")
    photo.thumbnail((job.size * 2, job.size * 2))
    sketches = [_png(_photo_sketch(photo, random.Random(f"{job.seed}:{job.name}:{k}"))) for k in range(job.sketches)]
    return Rendered(job.name, _png(photo), tuple(sketches))


def _run(job: Job) -> Rendered:
    return _photo_job(job) if job.name.startswith("skimage:") else _clipart_job(job)


def build(
    cache: Path,
    count: int = 600,
    sketches: int = 2,
    seed: int = 0,
    size: int = 256,
    source: Path = DEFAULT_SOURCE,
    workers: int = 2,
    categories: Sequence[str] = OBJECT_CATEGORIES,
    photos: Sequence[str] = PHOTOS,
) -> Path:
    """Render the set into `cache` (once: a finished set is reused) and return its folder.

    ``index.json`` lists per split the library pictures, the hard queries (sketch → the one
    picture of the same source) and the clean ones (the clip art's undistorted line art)."""
    key = json.dumps([SET_VERSION, count, sketches, seed, size, str(source), list(categories), list(photos)])
    key = hashlib.sha256(key.encode()).hexdigest()[:12]
    out = cache / f"{SET_VERSION}-{key}"
    if (out / "index.json").is_file():
        return out
    svgs = list_svgs(source, categories)
    if not svgs:
        raise SystemExit(f"no SVGs under {source}: apt-get install openclipart-svg (or pass --source)")
    rng = random.Random(seed)
    rng.shuffle(svgs)
    # A few more candidates than needed: some are not public domain or do not render.
    candidates = [Job(p.relative_to(source).as_posix(), str(p), size, seed, sketches) for p in svgs[: int(count * 1.4)]]
    photo_jobs = [Job(f"skimage:{n}", n, size, seed, sketches) for n in photos]
    (out / "img").mkdir(parents=True, exist_ok=True)
    index: dict[str, dict[str, list[dict[str, str]]]] = {s: {"library": [], "queries": [], "clean": []} for s in SPLITS}
    used = 0
    skipped: list[dict[str, str]] = []
    pool = ProcessPoolExecutor(max_workers=max(1, workers))
    try:
        for r in pool.map(_run, photo_jobs + candidates, chunksize=4):
            if r.picture is None:
                skipped.append({"source": r.name, "reason": r.reason})
                continue
            if not r.name.startswith("skimage:"):
                if used >= count:
                    break
                used += 1
            stem = hashlib.sha256(r.name.encode()).hexdigest()[:16]
            split = index[split_of(r.name, seed)]
            (out / "img" / f"{stem}.png").write_bytes(r.picture)
            split["library"].append({"id": stem, "source": r.name, "path": f"img/{stem}.png"})
            for k, png in enumerate(r.sketches):
                (out / "img" / f"{stem}.sketch{k}.png").write_bytes(png)
                split["queries"].append({"sketch": f"img/{stem}.sketch{k}.png", "relevant": stem})
            if r.clean is not None:
                (out / "img" / f"{stem}.clean.png").write_bytes(r.clean)
                split["clean"].append({"sketch": f"img/{stem}.clean.png", "relevant": stem})
    finally:
        pool.shutdown(cancel_futures=True)
    meta = {
        "version": SET_VERSION,
        "count": count,
        "sketches_per_source": sketches,
        "seed": seed,
        "size": size,
        "sources": {
            "openclipart": f"{source} (Debian openclipart-svg; public-domain files only)",
            "skimage": f"scikit-image sample data {list(photos)} (public domain / CC0 per their docstrings)",
        },
        "skipped": len(skipped),
        "splits": index,
    }
    (out / "index.json").write_text(json.dumps(meta, indent=1))
    log.info("hard sketch set: %d sources (+%d photos) in %s", used, len(photos), out)
    return out
