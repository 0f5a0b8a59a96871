"""The atlas benchmark measures real builds: one page (or more) per row, sizes that add up."""

from __future__ import annotations

import json
from pathlib import Path

import bench_atlas
from tests.support.images import shape_image


def test_bench_atlas_reports_a_row_per_count_and_cell_with_real_files(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        shape_image(i, i).save(images / f"{i}.png")
    out = tmp_path / "atlas.json"
    argv = ["--images-dir", str(images), "--counts", "2,40", "--cells", "32,64", "--repeats", "1"]
    assert bench_atlas.main([*argv, "--thumb-size", "64", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["hits"], r["cell"]) for r in rows] == [(2, 32), (2, 64), (40, 32), (40, 64)]
    for r in rows:
        assert r["pages"] >= 1 and r["requests"] == 1 + r["pages"] and r["thumb_requests"] == r["hits"]
        assert r["atlas_kb"] > 0 and r["thumbs_kb"] > 0 and 0 < r["build_p50_ms"] <= r["build_p95_ms"]
    by = {(r["hits"], r["cell"]): r for r in rows}
    assert by[(40, 64)]["atlas_kb"] > by[(2, 64)]["atlas_kb"], "more hits, a larger page"
