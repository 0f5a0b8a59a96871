"""scripts/bench_image_tower.py: the service's image forward timed per batch size, on the tiny model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.embedding.clip import register_model_configs
from tests.support.settings import TINY_MODEL

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import bench_image_tower  # noqa: E402


def test_bench_image_tower_reports_each_batch_against_batch_one(tmp_path: Path) -> None:
    register_model_configs(Path(TINY_MODEL["MODEL_CONFIGS"]))
    out = tmp_path / "tower.json"
    argv = ["--model", TINY_MODEL["MODEL_NAME"], "--batches", "1,3", "--repeats", "2", "--threads", "1"]
    assert bench_image_tower.main([*argv, "--precision", "service", "--precision", "bf16", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["batch"], r["precision"]) for r in rows] == [(1, "service"), (1, "bf16"), (3, "service"), (3, "bf16")]
    for r in rows:
        assert r["p50_ms"] > 0 and r["images_per_s"] > 0
        assert r["vs_batch_1"] == 1.0 if r["batch"] == 1 else r["vs_batch_1"] > 0
        # images/s is the batch over the forward's median time
        assert abs(r["images_per_s"] - r["batch"] / (r["p50_ms"] / 1000)) <= 0.01 * r["images_per_s"] + 0.5
