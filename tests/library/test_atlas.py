"""Sprite atlas geometry (pure), pixels, pages, and scripts/build_atlas.py on a real library."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from app.library.atlas import Rect, build_atlas, fit, plan_pages
from app.storage.thumbs import ThumbnailCache
from tests.support.images import shape_image


def _overlap(a: Rect, b: Rect) -> bool:
    return a.page == b.page and a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def _pictures(n: int) -> list[tuple[str, Image.Image]]:
    # Mixed sizes and aspect ratios: wide, tall, smaller and larger than a cell.
    sizes = [(96, 96), (120, 40), (30, 90), (20, 20), (64, 48)]
    return [(f"id{i:03d}", shape_image(i % 3, i).resize(sizes[i % len(sizes)])) for i in range(n)]


@pytest.mark.parametrize(
    ("n", "cell", "max_side", "pages"),
    [(0, 32, 64, 0), (1, 32, 64, 1), (4, 32, 64, 1), (5, 32, 64, 2), (9, 32, 100, 1), (10, 32, 100, 2)],
)
def test_plan_pages_fills_pages_of_at_most_max_side(n: int, cell: int, max_side: int, pages: int) -> None:
    specs, slots = plan_pages(n, cell, max_side)
    assert len(specs) == pages and len(slots) == n
    assert sum(s.count for s in specs) == n
    for s in specs:
        assert s.width <= max_side and s.height <= max_side
        assert s.columns * s.rows >= s.count > (s.rows - 1) * s.columns, "no empty row"
    assert len({(s.page, s.x, s.y) for s in slots}) == n, "one cell per item"


def test_plan_pages_refuses_a_page_smaller_than_a_cell() -> None:
    with pytest.raises(ValueError, match="`max_side` must be at least `cell` \\(64\\) but is 32"):
        plan_pages(3, 64, 32)


def test_fit_keeps_aspect_and_never_upscales() -> None:
    assert fit((200, 100), 50) == (50, 25)
    assert fit((10, 30), 60) == (10, 30)
    assert fit((300, 300), 64) == (64, 64)


@pytest.mark.parametrize("padding", [0, 3])
def test_sprites_do_not_overlap_stay_inside_and_hold_the_thumbnail_pixels(padding: int) -> None:
    pictures = _pictures(23)
    atlas = build_atlas(pictures, cell=48, max_side=200, padding=padding)  # 4x4 cells a page → 2 pages
    assert len(atlas.pages) == 2 and len(atlas.sprites) == 23
    rects = list(atlas.sprites.values())
    assert not any(_overlap(a, b) for a, b in combinations(rects, 2))
    for (pid, img), rect in zip(pictures, rects, strict=True):
        page = atlas.pages[rect.page]
        assert 0 <= rect.x and rect.x + rect.w <= page.width and 0 <= rect.y and rect.y + rect.h <= page.height
        cell_x, cell_y = rect.x // 48 * 48, rect.y // 48 * 48
        assert rect.x >= cell_x + padding and rect.x + rect.w <= cell_x + 48 - padding, "inside its own cell"
        assert rect.y >= cell_y + padding and rect.y + rect.h <= cell_y + 48 - padding
        expected = img.convert("RGBA")
        if expected.size != (rect.w, rect.h):
            expected = expected.resize((rect.w, rect.h), Image.Resampling.LANCZOS)
        crop = page.crop((rect.x, rect.y, rect.x + rect.w, rect.y + rect.h))
        assert np.array_equal(np.asarray(crop), np.asarray(expected)), pid
    small = atlas.sprites["id003"]
    assert (small.w, small.h) == (20, 20), "a small picture is not scaled up"


def test_the_manifest_names_each_page_file_and_sprite(tmp_path: Path) -> None:
    atlas = build_atlas(_pictures(5), cell=32, max_side=64)
    manifest_path = atlas.save(tmp_path / "out" / "atlas.png")
    manifest = json.loads(manifest_path.read_text())
    assert [p["file"] for p in manifest["pages"]] == ["atlas-0.png", "atlas-1.png"]
    for page in manifest["pages"]:
        with Image.open(tmp_path / "out" / page["file"]) as img:
            assert img.size == (page["width"], page["height"])
    assert manifest["sprites"]["id004"] == {"page": 1, "x": 0, "y": 4, "w": 32, "h": 24}  # centred
    one = build_atlas(_pictures(2), cell=32, max_side=64).save(tmp_path / "single.png")
    assert json.loads(one.read_text())["pages"][0]["file"] == "single.png"


def test_build_atlas_script_packs_a_library_or_a_result_set(planted: dict[str, Any], tmp_path: Path) -> None:
    import build_atlas as script

    settings = planted["settings"]
    common = ["--images-root", str(planted["root"]), "--thumbs-root", str(tmp_path / "thumbs"), "--cell", "40"]
    assert (
        script.main([*common, "--library", "default", "--out", str(tmp_path / "all.png")], store=planted["store"]) == 0
    )
    manifest = json.loads((tmp_path / "all.json").read_text())
    assert len(manifest["sprites"]) == 10 and manifest["missing"] == []
    # Pixels match the cached thumbnail, fitted to the cell.
    pid, rect = next(iter(manifest["sprites"].items()))
    thumb_path = ThumbnailCache(tmp_path / "thumbs", settings.THUMB_SIZE).path_for(pid)
    with Image.open(thumb_path) as t:
        expected = t.convert("RGBA").resize((rect["w"], rect["h"]), Image.Resampling.LANCZOS)
    with Image.open(tmp_path / "all.png") as page:
        crop = page.crop((rect["x"], rect["y"], rect["x"] + rect["w"], rect["y"] + rect["h"]))
        assert np.array_equal(np.asarray(crop), np.asarray(expected))

    hits = {
        "hits": [{"id": planted["pid"](planted["rows"][2]["path"])}, {"id": "00000000-0000-0000-0000-000000000000"}]
    }
    (tmp_path / "hits.json").write_text(json.dumps(hits))
    args = [*common, "--ids-file", str(tmp_path / "hits.json"), "--max-side", "40", "--out", str(tmp_path / "r.png")]
    assert script.main(args, store=planted["store"]) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert list(result["sprites"]) == [hits["hits"][0]["id"]]
    assert result["missing"] == [{"id": hits["hits"][1]["id"], "reason": "not in the collection"}]
