"""The hard sketch set (scripts/hard_sketches.py) and the shape-descriptor evaluation."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

import clipart
import eval_shape
import hard_sketches
from tests.support.clipart import CIRCLE_AND_PATH_SVG, requires_cairo


def test_the_split_is_fixed_by_name_and_seed_and_uses_both_halves() -> None:
    names = [f"animals/{i}.svg" for i in range(200)]
    splits = [hard_sketches.split_of(n, 0) for n in names]
    assert splits == [hard_sketches.split_of(n, 0) for n in names]
    assert 60 < splits.count("tune") < 140
    assert splits != [hard_sketches.split_of(n, 1) for n in names], "another seed, another split"


def test_distortions_drop_repeat_and_add_strokes_deterministically() -> None:
    root = clipart.parse_svg(CIRCLE_AND_PATH_SVG.encode())
    line_art = clipart.to_line_art(root, 2.0)
    shapes = len(list(clipart.iter_shapes(line_art)))
    heavy = hard_sketches.Distortion(repeat=1.0, extra=3, stroke_shift=0.02, width_spread=0.5)
    out = hard_sketches.distort_line_art(line_art, heavy, 2.0, random.Random(1))
    assert len(list(clipart.iter_shapes(out))) == 2 * shapes + 3
    again = hard_sketches.distort_line_art(line_art, heavy, 2.0, random.Random(1))
    assert clipart.ET.tostring(out) == clipart.ET.tostring(again)
    unfinished = hard_sketches.distort_line_art(line_art, hard_sketches.Distortion(partial=0.5), 2.0, random.Random(1))
    assert len(list(clipart.iter_shapes(unfinished))) == 1
    assert len(list(clipart.iter_shapes(line_art))) == shapes, "the input tree is not changed"


def test_wobble_bends_lines_but_keeps_the_drawing() -> None:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (128, 128), "white")
    ImageDraw.Draw(img).line([(10, 64), (118, 64)], fill="black", width=3)
    bent = np.asarray(hard_sketches.wobble(img, 0.03, random.Random(0)).convert("L"))
    assert not np.array_equal(bent, np.asarray(img.convert("L")))
    assert 0.5 < (bent < 128).sum() / (np.asarray(img.convert("L")) < 128).sum() < 1.5


@requires_cairo
def test_the_evaluation_picks_a_variant_by_the_tune_split_and_writes_json(
    clipart_source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--cache", str(tmp_path / "cache"), "--source", str(clipart_source), "--categories", ""]
    args += ["--photos", "camera", "--count", "4", "--sketches", "2", "--workers", "1"]
    args += ["--variants", "shape-576,hog-1764,pca576-w0.15-hog1764-sqrt", "--out", str(tmp_path / "r.json")]
    assert eval_shape.main(args) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    sizes = report["sizes"]
    assert sizes["tune"]["pictures"] + sizes["held-out"]["pictures"] == 5, "4 clip arts and one photo"
    index = json.loads(next((tmp_path / "cache").glob("hard-*/index.json")).read_text())["splits"]
    tune = {x["source"] for x in index["tune"]["library"]}
    assert not tune & {x["source"] for x in index["held-out"]["library"]}, "no source in both splits"
    rows = {r["variant"]: r for r in report["rows"]}
    assert set(rows) == {"shape-576", "hog-1764", "pca576-w0.15-hog1764-sqrt"}
    assert [r["variant"] for r in report["rows"] if r["chosen"]] == [report["chosen"]]
    assert rows[report["chosen"]]["dim"] == 576, "chosen among the stored view's size only"
    for r in rows.values():
        assert 0.0 <= r["held-out mAP@10"] <= 1.0 and r["ms/query"] > 0
    assert "held-out mAP@10" in capsys.readouterr().out
