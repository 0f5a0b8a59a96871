"""Clip art helpers shared by the sample-library and evaluation-set builders.

Everything that touches an SVG lives here, once: reading the openclipart metadata
(title, creator, licence), turning titles and folder names into tags, rendering an SVG
to a PNG on a white background, and turning an SVG into *line art* — every shape
unfilled, stroked in black with one stroke width — the way a person would sketch the
same picture.

The source is Debian's ``openclipart-svg`` package (``apt-get install
openclipart-svg``), which installs about 8,000 public-domain SVGs under
``/usr/share/openclipart/svg/<category>/…``. Rendering needs cairo (``apt-get install
libcairo2``) through ``cairosvg``.

Only the standard library's XML parser is used on the SVGs: they are trusted files from
a distribution package, and Python's expat refuses entity-expansion bombs by itself.
"""

from __future__ import annotations

import copy
import hashlib
import io
import logging
import math
import random
import re
import signal
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

DEFAULT_SOURCE = Path("/usr/share/openclipart/svg")
SOURCE_NAME = "openclipart"
PUBLIC_DOMAIN = "public-domain"

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
NAMESPACES = {
    "": SVG_NS,
    "xlink": XLINK_NS,
    "dc": "http://purl.org/dc/elements/1.1/",
    "cc": "http://web.resource.org/cc/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "sodipodi": "http://inkscape.sourceforge.net/DTD/sodipodi-0.dtd",
    "inkscape": "http://www.inkscape.org/namespaces/inkscape",
}
for _prefix, _uri in NAMESPACES.items():
    # Without this ElementTree writes ns0:svg, which is valid but unreadable when
    # debugging.
    ET.register_namespace(_prefix, _uri)

# Categories whose pictures are *things a person would sketch*. The others in the
# package are mostly icon sets, flags, arrows, star shapes, patterns and logos
# (trademarks), which would flood an evaluation with near-identical or abstract items.
OBJECT_CATEGORIES: tuple[str, ...] = (
    "animals",
    "buildings",
    "containers",
    "education",
    "electronics",
    "food",
    "office",
    "people",
    "plants",
    "recreation",
    "science",
    "tools",
    "transportation",
)

SHAPE_TAGS = frozenset({"path", "rect", "circle", "ellipse", "line", "polyline", "polygon"})
# Containers get the line style too, so that anything they hand down is a black line.
CONTAINER_TAGS = frozenset({"g", "use", "a", "switch", "svg", "symbol", "marker"})
# Dropped from a sketch: pixels (image), lettering and embedded HTML do not become pen
# lines, stylesheets would re-colour the lines, and masks/filters hide or blur them.
SKETCH_DROP_TAGS = frozenset({"image", "text", "flowRoot", "foreignObject", "style", "mask", "filter", "script"})
# Geometry inside these is not drawn directly (clip outlines, gradient stops, …), so it
# is not restyled or dropped: a clip path with "fill:none" still clips.
NOT_DRAWN_TAGS = frozenset({"clipPath", "linearGradient", "radialGradient", "pattern", "metadata", "namedview"})
STYLE_PROPS_REPLACED = (
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-opacity",
    "stroke-dasharray",
    "stroke-dashoffset",
    "stroke-linejoin",
    "stroke-linecap",
    "stroke-miterlimit",
    "opacity",
    "filter",
    "mask",
    "color",
)
# A shape with no stroke whose fill is this faint is a highlight or a shadow, not a
# contour.
FAINT_FILL_ALPHA = 0.35
# A render with fewer non-white pixels than this fraction is treated as empty.
MIN_INK_FRACTION = 0.002

UNIT_PX = {
    "": 1.0,
    "px": 1.0,
    "pt": 96 / 72,
    "pc": 16.0,
    "mm": 96 / 25.4,
    "cm": 96 / 2.54,
    "in": 96.0,
    "em": 16.0,
    "ex": 8.0,
}

_STOP_WORD_LINES = (
    "a an and are as at be by for from in into is it its of on or the to with without",
    "la le les el de del di da du des der die das und il lo una uno un et y e o",
    "clip clipart openclipart art svg png vector image picture drawing graphic",
    "inkscape version copy new final draft simple sample example misc various other",
    "left right small big large",
)
STOP_WORDS = frozenset(w for line in _STOP_WORD_LINES for w in line.split())
# Folder names read as tags: "animals" → "animal", "signs_and_symbols" → "sign",
# "symbol".
_IRREGULAR_SINGULARS = {
    "people": "people",
    "clothing": "clothing",
    "glasses": "glasses",
    "dairy": "dairy",
    "transportation": "transportation",
}


class ClipArtError(Exception):
    """An SVG that cannot be used; ``reason`` is a short label for the skip summary."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ClipArt:
    """One SVG of the collection and what its metadata says about it."""

    svg: Path
    rel: str  # path under the source root, e.g. "animals/bugs/ant.svg"
    category: str  # first folder, e.g. "animals"
    subcategory: str | None  # the rest of the folders, e.g. "bugs"
    title: str  # readable title, e.g. "greedy caterpillar"
    tags: list[str]
    creator: str | None
    license: str = PUBLIC_DOMAIN
    keywords: list[str] = field(default_factory=list)


# -------------------------------------------------------------------- words and tags


def split_words(text: str) -> list[str]:
    """Lower-case words of ``text``, split on ``_``, ``-``, punctuation and
    camelCase."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    return [w for w in re.split(r"[^a-zA-Z0-9]+", text.lower()) if w]


def content_words(text: str, exclude: frozenset[str] = frozenset()) -> list[str]:
    """Words of ``text`` worth a tag: no stop-words, numbers, letters or ``exclude``."""
    out: list[str] = []
    for word in split_words(text):
        if len(word) < 2 or not word.isalpha() or word in STOP_WORDS or word in exclude:
            continue
        if word not in out:
            out.append(word)
    return out


def singular(word: str) -> str:
    """A cheap singular, good enough for the package's own folder names."""
    if word in _IRREGULAR_SINGULARS:
        return _IRREGULAR_SINGULARS[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def make_tags(
    title: str,
    folders: Sequence[str],
    keywords: Sequence[str] = (),
    exclude: frozenset[str] = frozenset(),
    max_tags: int = 6,
) -> list[str]:
    """Tags for one picture, most specific first: title, sub-folder, category.

    The subject keywords of the SVG metadata are noisy ("greed hungry"), so they only
    top a picture up to two tags when its title and folders say too little.
    """
    tags: list[str] = []

    def add(words: Sequence[str]) -> None:
        for word in words:
            if word not in tags and len(tags) < max_tags:
                tags.append(word)

    add(content_words(title, exclude)[: max_tags - 2])
    for folder in reversed(folders):  # innermost folder first: "bugs" before "animals"
        add([singular(w) for w in content_words(folder.replace("_", " "), exclude)])
    if len(tags) < 2:
        for keyword in keywords:
            add(content_words(keyword, exclude))
    return tags


# Words that some authors put in every title ("clipart by nicu"): they name no subject.
TITLE_NOISE = frozenset({"clipart", "openclipart", "svg", "png", "inkscape", "vector"})


def clip_vocabulary() -> frozenset[str] | None:
    """Whole words of OpenCLIP's tokenizer, or None when open_clip is not installed.

    A title made only of such words is one the text tower reads as words; it filters out
    the misspelt, made-up and non-English titles ("skoynk", "provetta sangue") that
    make poor tags and text queries. It also drops some fine compounds ("teddybear").
    """
    try:
        from open_clip.tokenizer import SimpleTokenizer
    except ImportError:
        log.warning("open_clip is not installed: titles are not checked for known words")
        return None
    encoder: dict[str, int] = SimpleTokenizer().encoder
    return frozenset(w[: -len("</w>")] for w in encoder if w.endswith("</w>"))


def clean_title(title: str, exclude: frozenset[str] = frozenset()) -> str:
    """A readable lower-case title without numbers, noise words and author names."""
    words = [w for w in split_words(title) if w.isalpha() and w not in exclude and w not in TITLE_NOISE]
    if words[:1] == ["by"]:
        words = words[1:]
    return " ".join(words)


def slug(text: str, max_len: int = 40) -> str:
    """A file-name-safe slug: lower-case words joined by ``_``."""
    out = "_".join(split_words(text))[:max_len].strip("_")
    return out or "untitled"


# -------------------------------------------------------------- listing and metadata


def list_svgs(source: Path, categories: Sequence[str] | None = None) -> list[Path]:
    """Every ``*.svg`` under ``source`` (or only in these top-level folders), sorted.

    Sorting makes a seeded choice over the list reproducible on any machine.
    """
    if not source.is_dir():
        raise ClipArtError(
            "missing source",
            f"`--source` {str(source)!r} is not a folder; install the clip art with "
            "`apt-get install openclipart-svg` or point --source at a folder of SVGs",
        )
    roots = [source / c for c in categories] if categories else [source]
    files = [p for root in roots if root.is_dir() for p in root.rglob("*.svg") if p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(source).as_posix())


def _local(tag: object) -> str:
    """Tag name without its namespace: ``{…/2000/svg}path`` → ``path``."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _metadata_text(root: ET.Element, path: str) -> str:
    node = root.find(
        path,
        {
            "dc": NAMESPACES["dc"],
            "cc": NAMESPACES["cc"],
            "rdf": NAMESPACES["rdf"],
            "svg": SVG_NS,
        },
    )
    return (node.text or "").strip() if node is not None else ""


def parse_svg(data: bytes) -> ET.Element:
    """Parse SVG bytes with the stdlib parser; errors become ``ClipArtError``."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise ClipArtError("invalid XML", str(e)) from e
    if _local(root.tag) != "svg":
        raise ClipArtError("not an SVG", f"root element is {_local(root.tag)!r}")
    return root


def license_of(root: ET.Element) -> str | None:
    """``public-domain`` unless the metadata names another licence (then that URL).

    The Debian package's copyright file dedicates the whole collection to the public
    domain; an empty ``cc:license`` therefore counts as public domain, a GPL one does
    not.
    """
    node = root.find(".//cc:license", {"cc": NAMESPACES["cc"]})
    url = node.get(f"{{{NAMESPACES['rdf']}}}resource", "") if node is not None else ""
    if not url or re.search(r"publicdomain|public.domain|zero/1\.0", url, re.IGNORECASE):
        return PUBLIC_DOMAIN
    return url


def read_clipart(svg: Path, source: Path, root: ET.Element | None = None) -> ClipArt:
    """Metadata of one SVG: title, creator, licence, folders and tags."""
    if root is None:
        root = parse_svg(svg.read_bytes())
    rel = svg.relative_to(source).as_posix()
    folders = rel.split("/")[:-1]
    meta_title = _metadata_text(root, ".//cc:Work/dc:title")
    creator = _metadata_text(root, ".//dc:creator/cc:Agent/dc:title") or None
    keywords = [
        (li.text or "").strip()
        for li in root.iterfind(".//dc:subject//rdf:li", {"dc": NAMESPACES["dc"], "rdf": NAMESPACES["rdf"]})
        if (li.text or "").strip()
    ]
    # Debian's file names append the author ("caterpillar_david_wislon_01"): keep author
    # names out of titles and tags.
    author_words = frozenset(split_words(creator or "")) - {"the"}
    stem = re.sub(r"[-_]?(v\d+(\.\d+)*|\d+)$", "", svg.stem)
    title = clean_title(meta_title, author_words) or clean_title(stem, author_words)
    if not title:
        title = folders[-1].replace("_", " ") if folders else "untitled"
    tags = make_tags(title, folders, keywords, author_words)
    licence = license_of(root)
    return ClipArt(
        svg=svg,
        rel=rel,
        category=folders[0] if folders else "unsorted",
        subcategory="/".join(folders[1:]) or None,
        title=title,
        tags=tags,
        creator=creator,
        license=licence or PUBLIC_DOMAIN,
        keywords=keywords,
    )


# -------------------------------------------------------------------------- geometry


def _length_px(value: str | None) -> float | None:
    """An absolute SVG length in CSS pixels; None if missing or relative (%)."""
    if not value:
        return None
    m = re.fullmatch(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-z]*)\s*", value)
    if not m or m.group(2) not in UNIT_PX:
        return None
    px = float(m.group(1)) * UNIT_PX[m.group(2)]
    return px if px > 0 else None


def viewbox_of(root: ET.Element) -> tuple[float, float, float, float]:
    """The root's viewBox, or one made from width/height (user unit = 1 px)."""
    vb = root.get("viewBox")
    if vb:
        try:
            x, y, w, h = (float(v) for v in re.split(r"[\s,]+", vb.strip()))
        except ValueError as e:
            raise ClipArtError("bad viewBox", repr(vb)) from e
        if w > 0 and h > 0:
            return x, y, w, h
    w_px, h_px = _length_px(root.get("width")), _length_px(root.get("height"))
    if w_px is None or h_px is None:
        raise ClipArtError("no size", "neither a viewBox nor an absolute width and height")
    # Without a viewBox one user unit is one CSS pixel, whatever unit width/height use.
    return 0.0, 0.0, w_px, h_px


def fit_size(viewbox: tuple[float, float, float, float], size: int) -> tuple[int, int]:
    """Output pixel size: longest side ``size``, the viewBox's aspect ratio."""
    _, _, w, h = viewbox
    if w >= h:
        return size, max(1, round(size * h / w))
    return max(1, round(size * w / h)), size


def normalise_root(root: ET.Element, size: int) -> tuple[ET.Element, float]:
    """A copy with an explicit viewBox and pixel width/height for a ``size`` render.

    Returns the copy and how many output pixels one root user unit covers, which the
    line-art conversion needs to give every line the same width on screen.
    """
    vb = viewbox_of(root)
    out_w, out_h = fit_size(vb, size)
    root = copy.deepcopy(root)
    root.set("viewBox", " ".join(f"{v:g}" for v in vb))
    root.set("width", str(out_w))
    root.set("height", str(out_h))
    root.set("preserveAspectRatio", "xMidYMid meet")
    return root, min(out_w / vb[2], out_h / vb[3])


_TRANSFORM_RE = re.compile(r"(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)")
_NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def linear_scale(transform: str | None) -> float:
    """How much an SVG ``transform`` scales lengths (sqrt of |det| of its matrix)."""
    if not transform:
        return 1.0
    a, b, c, d = (
        1.0,
        0.0,
        0.0,
        1.0,
    )  # running linear part, column-major like SVG's matrix()
    for name, args in _TRANSFORM_RE.findall(transform):
        v = [float(x) for x in _NUMBER_RE.findall(args)]
        if name == "matrix" and len(v) >= 4:
            m = (v[0], v[1], v[2], v[3])
        elif name == "scale" and v:
            m = (v[0], 0.0, 0.0, v[1] if len(v) > 1 else v[0])
        elif name == "skewX" and v:
            m = (1.0, 0.0, math.tan(math.radians(v[0])), 1.0)
        elif name == "skewY" and v:
            m = (1.0, math.tan(math.radians(v[0])), 0.0, 1.0)
        else:  # translate and rotate keep lengths
            continue
        a, b, c, d = (
            a * m[0] + c * m[1],
            b * m[0] + d * m[1],
            a * m[2] + c * m[3],
            b * m[2] + d * m[3],
        )
    det = abs(a * d - b * c)
    return math.sqrt(det) if det > 1e-12 else 1.0


# ---------------------------------------------------------------------------- styles


def parse_style(style: str | None) -> dict[str, str]:
    """``"fill:red; stroke:none"`` → ``{"fill": "red", "stroke": "none"}``."""
    out: dict[str, str] = {}
    for item in (style or "").split(";"):
        if ":" in item:
            key, value = item.split(":", 1)
            out[key.strip()] = value.strip()
    return out


def _prop(el: ET.Element, style: dict[str, str], name: str) -> str | None:
    # Inline style beats presentation attributes, as in CSS.
    return style.get(name, el.get(name))


def _paint(value: str | None, inherited: str) -> str:
    return inherited if value in (None, "", "inherit") else str(value)


def _float(value: str | None, default: float) -> float:
    try:
        return float(value.rstrip("%")) / (100 if value.endswith("%") else 1) if value else default
    except ValueError:
        return default


@dataclass(frozen=True)
class _Inherited:
    fill: str = "black"  # SVG's initial fill: an unstyled path is drawn filled in black
    stroke: str = "none"
    fill_opacity: float = 1.0
    stroke_opacity: float = 1.0
    opacity: float = 1.0  # product of the ancestors' group opacity
    scale: float = 1.0  # product of the ancestors' transform scales


# -------------------------------------------------------------------------- line art


@dataclass(frozen=True)
class Jitter:
    """A small random distortion: a sketch is not a pixel copy of the outline."""

    angle_deg: float = 0.0
    scale_x: float = 1.0
    scale_y: float = 1.0
    shear: float = 0.0
    shift_x: float = 0.0  # fraction of the viewBox width
    shift_y: float = 0.0
    stroke: float = 1.0  # multiplier on the stroke width

    @classmethod
    def random(cls, rng: random.Random) -> Jitter:
        """A perturbation small enough that the sketch still shows the picture."""
        s = rng.uniform(0.92, 1.03)
        return cls(
            angle_deg=rng.uniform(-5.0, 5.0),
            scale_x=s * rng.uniform(0.97, 1.03),
            scale_y=s * rng.uniform(0.97, 1.03),
            shear=rng.uniform(-0.05, 0.05),
            shift_x=rng.uniform(-0.03, 0.03),
            shift_y=rng.uniform(-0.03, 0.03),
            stroke=rng.uniform(0.7, 1.5),
        )

    def transform(self, viewbox: tuple[float, float, float, float]) -> str:
        """An SVG transform applying this jitter about the viewBox's centre."""
        x, y, w, h = viewbox
        cx, cy = x + w / 2, y + h / 2
        skew = math.degrees(math.atan(self.shear))
        return (
            f"translate({cx + self.shift_x * w:.4f} {cy + self.shift_y * h:.4f}) "
            f"rotate({self.angle_deg:.4f}) skewX({skew:.4f}) "
            f"scale({self.scale_x:.5f} {self.scale_y:.5f}) "
            f"translate({-cx:.4f} {-cy:.4f})"
        )


def to_line_art(
    root: ET.Element,
    stroke_user: float,
    jitter: Jitter | None = None,
) -> ET.Element:
    """A copy of a normalised SVG drawn as black outlines of one width on nothing.

    Every visible shape loses its fill and gets a black stroke ``stroke_user`` root user
    units wide (corrected for the transforms above it, so every line has the same width
    on screen). Pictures, text, stylesheets, masks and filters are removed; invisible
    helpers (no fill and no stroke, hidden, fully transparent) and faint unstroked
    highlights are dropped rather than outlined, because a person sketching the picture
    would not draw them.
    """
    root = copy.deepcopy(root)
    width = stroke_user * (jitter.stroke if jitter else 1.0)

    def visit(el: ET.Element, inh: _Inherited) -> None:
        for child in list(el):
            tag = _local(child.tag)
            if not tag:  # comments, processing instructions
                continue
            if tag in SKETCH_DROP_TAGS:
                el.remove(child)
                continue
            if tag in NOT_DRAWN_TAGS:
                continue
            style = parse_style(child.get("style"))
            display = _prop(child, style, "display")
            visibility = _prop(child, style, "visibility")
            own_opacity = _float(_prop(child, style, "opacity"), 1.0)
            if display == "none" or visibility == "hidden" or own_opacity <= 0.01:
                el.remove(child)
                continue
            fill = _paint(_prop(child, style, "fill"), inh.fill)
            stroke = _paint(_prop(child, style, "stroke"), inh.stroke)
            here = _Inherited(
                fill=fill,
                stroke=stroke,
                fill_opacity=_float(_prop(child, style, "fill-opacity"), inh.fill_opacity),
                stroke_opacity=_float(_prop(child, style, "stroke-opacity"), inh.stroke_opacity),
                opacity=inh.opacity * own_opacity,
                scale=inh.scale * linear_scale(child.get("transform")),
            )
            if tag in SHAPE_TAGS:
                has_fill = fill != "none" and here.fill_opacity * here.opacity > 0.01
                has_stroke = stroke != "none" and here.stroke_opacity * here.opacity > 0.01
                faint = here.fill_opacity * here.opacity < FAINT_FILL_ALPHA
                if not has_stroke and (not has_fill or faint):
                    el.remove(child)
                    continue
            for name in STYLE_PROPS_REPLACED:
                style.pop(name, None)
                child.attrib.pop(name, None)
            if tag in SHAPE_TAGS or tag in CONTAINER_TAGS:
                style.update(
                    {
                        "fill": "none",
                        "stroke": "#000000",
                        "stroke-opacity": "1",
                        "stroke-width": f"{width / here.scale:.6g}",
                        "stroke-linejoin": "round",
                        "stroke-linecap": "round",
                        "stroke-dasharray": "none",
                    }
                )
            if style:
                child.set("style", ";".join(f"{k}:{v}" for k, v in style.items()))
            else:
                child.attrib.pop("style", None)
            visit(child, here)

    visit(root, _Inherited())
    if jitter is not None:
        group = ET.Element(f"{{{SVG_NS}}}g", {"transform": jitter.transform(viewbox_of(root))})
        for child in list(root):
            root.remove(child)
            group.append(child)
        root.append(group)
    return root


# ------------------------------------------------------------------------- rendering


def render(root: ET.Element) -> Image.Image:
    """Render a normalised SVG (see :func:`normalise_root`) to an RGB image on white."""
    import cairosvg  # imported here so that metadata-only use does not need libcairo

    data = ET.tostring(root, encoding="utf-8")
    try:
        png = cairosvg.svg2png(bytestring=data, background_color="white")
    except TimeoutError:
        raise
    # cairosvg raises anything from ValueError to KeyError on a bad SVG: all mean skip.
    except Exception as e:
        raise ClipArtError("render failed", f"{type(e).__name__}: {e}") from e
    if not png:
        raise ClipArtError("render failed", "cairosvg returned no image")
    with Image.open(io.BytesIO(png)) as im:
        return im.convert("RGB")


def ink_fraction(image: Image.Image) -> float:
    """Share of pixels that are not (almost) white."""
    grey = np.asarray(image.convert("L"))
    return float((grey < 245).mean())


def ink_bbox(image: Image.Image) -> tuple[int, int, int, int] | None:
    """Pixel box ``(left, top, right, bottom)`` around everything not white, or None."""
    ink = np.asarray(image.convert("L")) < 250
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if not len(rows):
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def frame_content(
    raw: ET.Element, size: int, margin: float = 0.04, passes: int = 3
) -> tuple[ET.Element, float, Image.Image]:
    """Normalise and render an SVG, zooming its viewBox onto the drawing.

    Many Inkscape files draw a small picture on a large empty page; rendered as is, the
    subject is a speck. The viewBox is moved to the inked area plus ``margin`` (a
    fraction of its longer side) and re-rendered, a few times because a speck's box is
    only known to a pixel. Returns the normalised root, output pixels per user unit, and
    the render.
    """
    root, px_per_unit = normalise_root(raw, size)
    image = render(root)
    for _ in range(passes):
        box = ink_bbox(image)
        if box is None:
            break
        left, top, right, bottom = box
        width, height = image.size
        if right - left >= 0.88 * width and bottom - top >= 0.88 * height:
            break  # already framed: the drawing spans (almost) the whole picture
        x, y, w, h = viewbox_of(root)
        sx, sy = width / w, height / h  # pixels per user unit along each axis
        bw, bh = (right - left) / sx, (bottom - top) / sy
        pad = margin * max(bw, bh)
        new_vb = (x + left / sx - pad, y + top / sy - pad, bw + 2 * pad, bh + 2 * pad)
        root.set("viewBox", " ".join(f"{v:.6g}" for v in new_vb))
        root, px_per_unit = normalise_root(root, size)
        image = render(root)
    return root, px_per_unit, image


def stroke_px_for(size: int) -> float:
    """Line width in output pixels for a sketch: 2 px at 256, 3 px at 384."""
    return max(1.0, size / 128)


@dataclass(frozen=True)
class RenderResult:
    """What a worker hands back: the item and its PNGs, or why it was skipped."""

    index: int
    rel: str
    clipart: ClipArt | None = None
    filled_png: bytes | None = None
    sketch_png: bytes | None = None
    size: tuple[int, int] | None = None
    reason: str | None = None
    detail: str = ""
    svg_sha256: str = ""


def _png_bytes(image: Image.Image, *, grey: bool = False, palette: bool = False) -> bytes:
    buf = io.BytesIO()
    if grey:
        image = image.convert("L")
    elif palette:
        # 256 colours is plenty for flat clip art and makes the files 3-4x smaller.
        image = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


class _Timeout:
    """Raise ``TimeoutError`` after ``seconds`` of wall time (Unix main thread only)."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.enabled = seconds > 0 and hasattr(signal, "SIGALRM")

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        raise TimeoutError

    def __enter__(self) -> None:
        if self.enabled:
            try:
                signal.signal(signal.SIGALRM, self._fire)
            except ValueError:  # not the main thread: run without a limit
                self.enabled = False
                return
            signal.alarm(self.seconds)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            signal.alarm(0)


@dataclass(frozen=True)
class RenderJob:
    """One SVG to render; a plain picklable record that can cross a process pool."""

    index: int
    svg: Path
    source: Path
    size: int
    sketch: bool = True
    jitter_seed: int | None = None  # None: no jitter
    max_bytes: int = 1_000_000
    timeout_s: int = 30
    palette: bool = False


def render_job(job: RenderJob) -> RenderResult:
    """Read, check and render one SVG (filled, and as line art); never raises.

    Failures come back as ``RenderResult.reason`` so that a bad file is counted and
    skipped, not fatal, and the caller can print one summary.
    """
    rel = job.svg.relative_to(job.source).as_posix()
    try:
        with _Timeout(job.timeout_s):
            data = job.svg.read_bytes()
            if len(data) > job.max_bytes:
                raise ClipArtError("too large", f"{len(data)} bytes > {job.max_bytes}")
            raw = parse_svg(data)
            art = read_clipart(job.svg, job.source, raw)
            if art.license != PUBLIC_DOMAIN:
                raise ClipArtError("not public domain", art.license)
            if len(art.tags) < 2:
                raise ClipArtError("too few tags", repr(art.tags))
            root, px_per_unit, filled = frame_content(raw, job.size)
            if ink_fraction(filled) < MIN_INK_FRACTION:
                raise ClipArtError("blank render")
            sketch_png = None
            if job.sketch:
                jitter = None
                if job.jitter_seed is not None:
                    jitter = Jitter.random(random.Random(job.jitter_seed))
                line_art = to_line_art(root, stroke_px_for(job.size) / px_per_unit, jitter)
                sketch = render(line_art)
                if ink_fraction(sketch) < MIN_INK_FRACTION:
                    raise ClipArtError("blank sketch", "no outlined shapes")
                sketch_png = _png_bytes(sketch, grey=True)
            return RenderResult(
                index=job.index,
                rel=rel,
                clipart=art,
                filled_png=_png_bytes(filled, palette=job.palette),
                sketch_png=sketch_png,
                size=filled.size,
                svg_sha256=hashlib.sha256(data).hexdigest(),
            )
    except ClipArtError as e:
        return RenderResult(index=job.index, rel=rel, reason=e.reason, detail=e.detail)
    except TimeoutError:
        return RenderResult(index=job.index, rel=rel, reason="timeout", detail=f"over {job.timeout_s} s")
    except (OSError, RecursionError, MemoryError) as e:
        return RenderResult(
            index=job.index,
            rel=rel,
            reason="render failed",
            detail=f"{type(e).__name__}: {e}",
        )


def iter_shapes(root: ET.Element) -> Iterator[ET.Element]:
    """Every drawable shape element of a tree (for tests and diagnostics)."""
    return (el for el in root.iter() if _local(el.tag) in SHAPE_TAGS)
