"""Sprite atlases: thumbnails packed in a grid of fixed square cells, over as many pages
(textures) as the maximum side allows, with a manifest of where each item landed.

A client draws item `id` from page `sprites[id].page` at (x, y, w, h): one image request
for hundreds of thumbnails. Each thumbnail keeps its aspect ratio, fits inside its cell
less `padding` on every side (no upscaling) and is centred there; the rest is transparent.
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from app.errors import ClippyError, InvalidInputError, NotFoundError
from app.storage.base import VectorStore
from app.storage.files import safe_join
from app.storage.payload import Payload
from app.storage.thumbs import ThumbnailCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageSpec:
    index: int
    columns: int
    rows: int
    count: int
    cell: int

    @property
    def width(self) -> int:
        return self.columns * self.cell

    @property
    def height(self) -> int:
        return self.rows * self.cell


@dataclass(frozen=True)
class Rect:
    page: int
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Slot:
    """Where the n-th item's cell lies: page, and the cell's top-left corner."""

    page: int
    x: int
    y: int


def plan_pages(n: int, cell: int, max_side: int) -> tuple[list[PageSpec], list[Slot]]:
    """Pages and cells for `n` items: full pages are (max_side // cell)² cells; a page with
    fewer items is as square as it can be, so small atlases stay small."""
    if cell < 1:
        raise ValueError(f"`cell` must be at least 1 pixel but is {cell}")
    if max_side < cell:
        raise ValueError(f"`max_side` must be at least `cell` ({cell}) but is {max_side}")
    if n < 0:
        raise ValueError(f"`n` must not be negative but is {n}")
    per_side = max_side // cell
    per_page = per_side * per_side
    pages: list[PageSpec] = []
    slots: list[Slot] = []
    for index, start in enumerate(range(0, n, per_page)):
        count = min(per_page, n - start)
        columns = min(per_side, math.ceil(math.sqrt(count)))
        rows = math.ceil(count / columns)
        pages.append(PageSpec(index, columns, rows, count, cell))
        slots += [Slot(index, (k % columns) * cell, (k // columns) * cell) for k in range(count)]
    return pages, slots


def fit(size: tuple[int, int], box: int) -> tuple[int, int]:
    """(w, h) scaled down to fit a `box`-sided square, aspect kept; never scaled up."""
    w, h = size
    if w < 1 or h < 1:
        raise ValueError(f"an image of {w}x{h} pixels cannot be placed")
    scale = min(1.0, box / w, box / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def place(slot: Slot, size: tuple[int, int], cell: int, padding: int) -> Rect:
    w, h = fit(size, cell - 2 * padding)
    return Rect(slot.page, slot.x + (cell - w) // 2, slot.y + (cell - h) // 2, w, h)


@dataclass
class Atlas:
    pages: list[Image.Image]
    specs: list[PageSpec]
    sprites: dict[str, Rect]
    cell: int
    padding: int
    max_side: int
    missing: list[dict[str, str]] = field(default_factory=list)

    def manifest(self, files: Sequence[str]) -> dict[str, Any]:
        return {
            "cell": self.cell,
            "padding": self.padding,
            "maxSide": self.max_side,
            "pages": [
                {
                    "file": f,
                    "width": s.width,
                    "height": s.height,
                    "columns": s.columns,
                    "rows": s.rows,
                    "count": s.count,
                }
                for f, s in zip(files, self.specs, strict=True)
            ],
            "sprites": {pid: asdict(r) for pid, r in self.sprites.items()},
            "missing": self.missing,
        }

    def save(self, out: Path) -> Path:
        """`<out>.png` for one page, `<out>-<i>.png` for several, and `<out>.json`."""
        out.parent.mkdir(parents=True, exist_ok=True)
        stem = out.with_suffix("")
        files = (
            [f"{stem.name}.png"] if len(self.pages) == 1 else [f"{stem.name}-{i}.png" for i in range(len(self.pages))]
        )
        for name, page in zip(files, self.pages, strict=True):
            page.save(stem.parent / name, format="PNG", optimize=True)
        manifest_path = stem.with_suffix(".json")
        manifest_path.write_text(json.dumps(self.manifest(files), indent=1) + "\n")
        return manifest_path


def build_atlas(
    thumbnails: Iterable[tuple[str, Image.Image]], *, cell: int = 128, max_side: int = 4096, padding: int = 0
) -> Atlas:
    """Pack (id, picture) pairs in order. A repeated id keeps its first place."""
    if padding < 0 or 2 * padding >= cell:
        raise ValueError(f"`padding` must be between 0 and {(cell - 1) // 2} for a {cell}px cell but is {padding}")
    entries: dict[str, Image.Image] = {}
    for pid, img in thumbnails:
        entries.setdefault(pid, img)
    specs, slots = plan_pages(len(entries), cell, max_side)
    pages = [Image.new("RGBA", (s.width, s.height), (0, 0, 0, 0)) for s in specs]
    sprites: dict[str, Rect] = {}
    for (pid, img), slot in zip(entries.items(), slots, strict=True):
        rect = place(slot, img.size, cell, padding)
        sprite = img.convert("RGBA")
        if sprite.size != (rect.w, rect.h):
            sprite = sprite.resize((rect.w, rect.h), Image.Resampling.LANCZOS)
        pages[rect.page].paste(sprite, (rect.x, rect.y))
        sprites[pid] = rect
    return Atlas(pages, specs, sprites, cell, padding, max_side)


# --- from a store ----------------------------------------------------------------------------


def thumbnails_of(
    store: VectorStore,
    thumbs: ThumbnailCache,
    images_root: Path,
    ids: Sequence[str],
    max_pixels: int,
    missing: list[dict[str, str]],
    batch: int = 256,
    readable: Callable[[Mapping[str, Any]], bool] | None = None,
) -> Iterator[tuple[str, Image.Image]]:
    """Each id's cached thumbnail (made on the way when absent), in order. Ids that are not
    in the store, or whose file cannot be read, land in `missing` with the reason; so do
    points whose payload `readable` refuses (another tenant's), not told apart from unknown ids."""
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        found = {p.id: p for p in store.retrieve(chunk)}
        for pid in chunk:
            point = found.get(pid)
            if point is None or (readable is not None and not readable(point.payload)):
                missing.append({"id": pid, "reason": "not in the collection"})
                continue
            try:
                original = safe_join(images_root, Payload.read(point.payload).path or "")
                path = thumbs.get(pid, original, max_pixels)
                with Image.open(path) as img:
                    img.load()
                    yield pid, img.copy()
            except ClippyError as e:
                missing.append({"id": pid, "reason": e.message})
            except (OSError, ValueError) as e:
                missing.append({"id": pid, "reason": f"{type(e).__name__}: {e}"})


# --- for API callers (POST /atlas) ------------------------------------------------------------

# JPEG: a page of a few dozen 256 px cells encodes in ~10 ms (PNG: ~2 s optimised, 0.2 s
# fast). A cell side that is a multiple of 16 keeps every JPEG block (chroma subsampled:
# 16×16) inside one cell, so no sprite bleeds into its neighbour.
PAGE_FORMAT, PAGE_SUFFIX = "JPEG", ".jpg"
MAX_SIDE = 4096  # the largest texture side every browser decodes without fuss
CELL_STEP = 16
# Transparent (here: background) margin in each cell: the browser's filtering when it scales
# a sprite reads a pixel or two beyond the sprite's edge.
API_PADDING = 2
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_OWNER_FILE = "owner.json"


class AtlasFiles:
    """Atlases built for API callers: each under THUMBS_ROOT/atlas/<token>/ with the owner
    that asked for it, downloadable for `ttl_s`. Tokens are random, so a rebuilt atlas (after
    a delete) never meets a browser's cached copy of an older one."""

    def __init__(self, root: Path, ttl_s: float) -> None:
        self.root = root
        self.ttl_s = ttl_s

    def save(self, atlas: Atlas, owner: str | None) -> tuple[str, list[str]]:
        """Writes the pages; returns the token and the pages' file names."""
        self.sweep()
        token = secrets.token_urlsafe(18)
        folder = self.root / token
        folder.mkdir(parents=True)
        names = [f"{i}{PAGE_SUFFIX}" for i in range(len(atlas.pages))]
        for name, page in zip(names, atlas.pages, strict=True):
            flat = Image.new("RGB", page.size, (255, 255, 255))
            flat.paste(page, mask=page.getchannel("A"))
            flat.save(folder / name, format=PAGE_FORMAT, quality=85)
        (folder / _OWNER_FILE).write_text(json.dumps({"owner": owner}))
        return token, names

    def page(self, token: str, name: str, may_see: Callable[[str | None], bool]) -> Path:
        """A page file, for a caller `may_see` lets see its owner's atlases; NotFoundError for
        unknown, expired or another owner's tokens (which of those is not told)."""
        folder = self.root / token
        gone = NotFoundError(f"no atlas page {token}/{name}; atlases expire after ATLAS_TTL_S ({self.ttl_s:g} s).")
        if not _TOKEN.match(token) or not re.fullmatch(rf"\d+{re.escape(PAGE_SUFFIX)}", name):
            raise gone
        path = folder / name
        try:
            owner = json.loads((folder / _OWNER_FILE).read_text()).get("owner")
            fresh = time.time() - path.stat().st_mtime < self.ttl_s
        except (OSError, ValueError):
            raise gone from None
        if not fresh or not may_see(owner):
            raise gone
        return path

    def sweep(self) -> int:
        """Removes atlases older than the TTL; returns how many."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - self.ttl_s
        removed = 0
        for folder in self.root.iterdir():
            try:
                old = folder.is_dir() and folder.stat().st_mtime < cutoff
            except OSError:
                continue
            if old:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed


def check_cell(cell: int | None, thumb_size: int) -> int:
    """A cell side for an API atlas: 32 px up to the thumbnail size, a multiple of 16;
    None asks for the default, the thumbnail size (at most 256) on that grid."""
    top = max(32, thumb_size // CELL_STEP * CELL_STEP)
    if cell is None:
        return min(256, top)
    if not 32 <= cell <= top or cell % CELL_STEP:
        raise InvalidInputError(
            f"`cell` must be a multiple of {CELL_STEP} from 32 to {top} (THUMB_SIZE) but is {cell}.", field="cell"
        )
    return cell


def build_for_caller(
    ids: Sequence[str],
    cell: int,
    *,
    store: VectorStore,
    thumbs: ThumbnailCache,
    images_root: Path,
    max_pixels: int,
    files: AtlasFiles,
    readable: Callable[[Mapping[str, Any]], bool],
    owner: str | None,
) -> dict[str, Any]:
    """One atlas of `ids` (a page of results) in one page while it fits `MAX_SIDE`: the
    manifest POST /atlas answers, with page URLs. Ids it could not place are in `missing`
    (unknown, another tenant's, unreadable): the client shows those one by one."""
    missing: list[dict[str, str]] = []
    order = list(dict.fromkeys(ids))
    atlas = build_atlas(
        thumbnails_of(store, thumbs, images_root, order, max_pixels, missing, readable=readable),
        cell=cell,
        max_side=MAX_SIDE,
        padding=API_PADDING,
    )
    token, names = files.save(atlas, owner)
    return {
        "cell": cell,
        "padding": API_PADDING,
        "pages": [
            {"url": f"/atlas/{token}/{name}", "width": spec.width, "height": spec.height}
            for name, spec in zip(names, atlas.specs, strict=True)
        ],
        "sprites": {pid: asdict(rect) for pid, rect in atlas.sprites.items()},
        "missing": [m["id"] for m in missing],
    }
