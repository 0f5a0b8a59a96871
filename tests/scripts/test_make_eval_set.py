"""Line-art conversion (scripts/clipart.py) and the evaluation-set builder."""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import clipart
import make_eval_set
from tests.support.clipart import CIRCLE_AND_PATH_SVG, requires_cairo

# ----------------------------------------------------------------------------- tags


def test_split_words_splits_underscores_dashes_and_camel_case() -> None:
    assert clipart.split_words("happyDog_red-apple 01") == [
        "happy",
        "dog",
        "red",
        "apple",
        "01",
    ]


def test_make_tags_puts_title_first_then_folders_in_the_singular() -> None:
    tags = clipart.make_tags("The Sleepy Cat 2", ["animals", "mammals"])
    assert tags == ["sleepy", "cat", "mammal", "animal"]


def test_make_tags_drops_author_names_and_caps_the_count() -> None:
    tags = clipart.make_tags(
        "big red fire truck with ladder and siren by ann",
        ["transportation", "vehicles"],
        exclude=frozenset({"ann"}),
    )
    assert "ann" not in tags
    assert 2 <= len(tags) <= 6
    assert tags[-2:] == ["vehicle", "transportation"]


def test_linear_scale_reads_nested_transforms() -> None:
    assert clipart.linear_scale("translate(10 20) scale(2)") == pytest.approx(2.0)
    assert clipart.linear_scale("matrix(0 3 -3 0 5 5) rotate(30)") == pytest.approx(3.0)
    assert clipart.linear_scale(None) == 1.0


def test_license_of_rejects_a_licence_that_is_not_public_domain() -> None:
    gpl = CIRCLE_AND_PATH_SVG.replace(
        "<circle",
        '<metadata xmlns:cc="http://web.resource.org/cc/" '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><cc:Work>'
        '<cc:license rdf:resource="http://creativecommons.org/licenses/GPL/2.0/"/>'
        "</cc:Work></metadata><circle",
        1,
    )
    assert clipart.license_of(ET.fromstring(gpl)) != clipart.PUBLIC_DOMAIN
    assert clipart.license_of(ET.fromstring(CIRCLE_AND_PATH_SVG)) == clipart.PUBLIC_DOMAIN


# ----------------------------------------------------------------------------- line art


def _render_pair(size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    root, px_per_unit = clipart.normalise_root(clipart.parse_svg(CIRCLE_AND_PATH_SVG.encode()), size)
    filled = clipart.render(root)
    line_art = clipart.to_line_art(root, clipart.stroke_px_for(size) / px_per_unit)
    sketch = clipart.render(line_art)
    return np.asarray(filled, dtype=np.int16), np.asarray(sketch, dtype=np.int16)


def _colourful(rgb: np.ndarray) -> np.ndarray:
    """Pixels whose channels differ by more than anti-aliasing noise."""
    return (rgb.max(axis=2) - rgb.min(axis=2)) > 24


def _white(rgb: np.ndarray) -> np.ndarray:
    return rgb.min(axis=2) > 245


@requires_cairo
def test_line_art_has_no_colour_only_dark_strokes() -> None:
    _, sketch = _render_pair()
    assert not _colourful(sketch).any()
    assert (sketch.max(axis=2) < 80).sum() > 100  # dark outlines were drawn


@requires_cairo
def test_line_art_leaves_more_white_than_the_filled_render() -> None:
    filled, sketch = _render_pair()
    assert _white(sketch).mean() > _white(filled).mean() + 0.1


@requires_cairo
def test_filled_render_keeps_its_colours() -> None:
    filled, _ = _render_pair()
    red = (filled[..., 0] > 200) & (filled[..., 1] < 60) & (filled[..., 2] < 60)
    blue = (filled[..., 2] > 200) & (filled[..., 0] < 60) & (filled[..., 1] < 60)
    assert red.sum() > 500 and blue.sum() > 100


def test_line_art_drops_invisible_helpers_text_and_pictures() -> None:
    svg = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">
      <rect id="guide" width="10" height="10" style="fill:none;stroke:none"/>
      <rect id="hidden" width="5" height="5" style="display:none"/>
      <circle id="glow" cx="5" cy="5" r="3" style="fill:#fff;fill-opacity:0.2"/>
      <text id="label">hi</text>
      <image id="photo" width="5" height="5"/>
      <g style="fill:#00ff00"><path id="kept" d="M0 0 L5 5"/></g>
    </svg>"""
    root, _ = clipart.normalise_root(ET.fromstring(svg), 64)
    line_art = clipart.to_line_art(root, 0.5)
    ids = {el.get("id") for el in line_art.iter() if el.get("id")}
    assert ids == {"kept"}
    kept = next(el for el in line_art.iter() if el.get("id") == "kept")
    style = clipart.parse_style(kept.get("style"))
    assert style["fill"] == "none" and style["stroke"] == "#000000"


def test_line_art_gives_scaled_groups_a_thinner_stroke_for_one_width_on_screen() -> None:
    svg = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">
      <path id="plain" d="M0 0 L5 5" fill="red"/>
      <g transform="scale(4)"><path id="scaled" d="M0 0 L1 1" fill="red"/></g>
    </svg>"""
    line_art = clipart.to_line_art(ET.fromstring(svg), 1.0)
    widths = {
        el.get("id"): float(clipart.parse_style(el.get("style"))["stroke-width"])
        for el in clipart.iter_shapes(line_art)
    }
    assert widths["scaled"] == pytest.approx(widths["plain"] / 4)


@requires_cairo
def test_jitter_moves_the_lines_but_keeps_them_black() -> None:
    root, px_per_unit = clipart.normalise_root(clipart.parse_svg(CIRCLE_AND_PATH_SVG.encode()), 128)
    stroke = clipart.stroke_px_for(128) / px_per_unit
    plain = np.asarray(clipart.render(clipart.to_line_art(root, stroke)), dtype=np.int16)
    jitter = clipart.Jitter.random(random.Random(3))
    moved = np.asarray(clipart.render(clipart.to_line_art(root, stroke, jitter)), dtype=np.int16)
    assert not _colourful(moved).any()
    assert (np.abs(plain - moved).max(axis=2) > 128).mean() > 0.01


@requires_cairo
def test_render_job_reports_a_broken_svg_instead_of_raising(tmp_path: Path) -> None:
    bad = tmp_path / "animals" / "bad.svg"
    bad.parent.mkdir()
    bad.write_text("<svg><path", encoding="utf-8")
    result = clipart.render_job(clipart.RenderJob(index=0, svg=bad, source=tmp_path, size=64))
    assert result.reason == "invalid XML"
    assert result.filled_png is None


@requires_cairo
def test_frame_content_zooms_onto_a_small_drawing_on_a_big_page() -> None:
    svg = """<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="1000">
      <rect x="10" y="10" width="20" height="10" fill="#000"/>
    </svg>"""
    _, _, image = clipart.frame_content(ET.fromstring(svg), 100)
    box = clipart.ink_bbox(image)
    assert box is not None
    left, _, right, _ = box
    assert right - left >= 85  # the 20-unit-wide rectangle now spans the picture
    assert image.size == (100, 54)


# ----------------------------------------------------------------------------- builder


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@requires_cairo
def test_builder_writes_a_consistent_manifest_and_queries(clipart_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    summary = make_eval_set.build(
        out,
        count=10,
        size=64,
        workers=1,
        jitter=True,
        source=clipart_source,
        categories=None,
        progress=False,
    )

    manifest, queries = _jsonl(out / "manifest.jsonl"), _jsonl(out / "queries.jsonl")
    assert summary.items == len(manifest) == len(queries) == 4
    library = {str(item["path"]) for item in manifest}
    assert len(library) == 4
    for item in manifest:
        assert (out / str(item["path"])).is_file()
        assert item["license"] == "public-domain" and item["source"] == "openclipart"
        assert 2 <= len(item["tags"]) <= 6  # type: ignore[arg-type]
    ids = [q["id"] for q in queries]
    assert len(ids) == len(set(ids))
    for query in queries:
        assert (out / str(query["sketch"])).is_file()
        assert query["text"]
        # The image query is the same picture altered, never its stored bytes.
        copy = out / str(query["image"])
        assert copy.is_file() and copy.read_bytes() != (out / str(query["relevant"][0])).read_bytes()  # type: ignore[index]
        assert set(query["relevant"]) <= library  # type: ignore[arg-type]
        assert set(query["relevantText"]) <= library  # type: ignore[arg-type]
        assert query["labels"] == query["relevantLabels"]
    categories = {item["category"] for item in manifest}
    assert categories == {"animals", "food", "tools"}
    sketch = Image.open(out / str(queries[0]["sketch"]))
    assert sketch.mode == "L"  # line art is stored as grey


@requires_cairo
def test_builder_skips_and_reports_a_broken_svg(clipart_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    summary = make_eval_set.build(
        out,
        count=10,
        size=64,
        workers=2,
        source=clipart_source,
        categories=None,
        progress=False,
    )
    assert summary.skipped == {"invalid XML": 1}
    assert "tools/broken_01.svg" in summary.report()
    skipped = _jsonl(out / "skipped.jsonl")
    assert [s["svg"] for s in skipped] == ["tools/broken_01.svg"]
    assert "public domain" in (out / "README.md").read_text(encoding="utf-8")


@requires_cairo
def test_builder_picks_the_same_items_whatever_the_worker_count(clipart_source: Path, tmp_path: Path) -> None:
    def items(workers: int) -> list[object]:
        out = tmp_path / f"w{workers}"
        make_eval_set.build(
            out,
            count=3,
            seed=7,
            size=64,
            workers=workers,
            jitter=True,
            source=clipart_source,
            categories=None,
            progress=False,
        )
        return [item["path"] for item in _jsonl(out / "manifest.jsonl")]

    assert items(1) == items(2)


def test_builder_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "manifest.jsonl").write_text("{}\n")
    with pytest.raises(SystemExit, match="--force"):
        make_eval_set._prepare(tmp_path, force=False)


def test_cli_help_explains_the_output(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        make_eval_set.parse_args(["--help"])
    text = capsys.readouterr().out
    for flag in ("--out", "--count", "--seed", "--size", "--workers", "--jitter"):
        assert flag in text
    assert "queries.jsonl" in text
