"""scripts/storyboard_consistency.py on the tiny SDXL and the tiny CLIP: a real report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import storyboard_consistency
from tests.support.settings import TINY_MODEL


def test_shared_subject_similarity_averages_only_pairs_sharing_a_subject() -> None:
    v = [np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([1.0, 0.0])]
    mean, pairs = storyboard_consistency.shared_subject_similarity(v, [["fox"], ["owl"], ["fox", "owl"]])
    assert pairs == 2 and mean == pytest.approx(0.5)
    assert storyboard_consistency.shared_subject_similarity(v[:2], [["a"], ["b"]]) == (None, 0)


def test_the_report_compares_retrieval_on_and_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.support.tiny_sdxl import build_tiny_sdxl

    env = {**TINY_MODEL, **build_tiny_sdxl(tmp_path_factory.mktemp("sdxl")).env(), "SDXL_DEFAULT_STEPS": "2"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "report.json"
    assert (
        storyboard_consistency.main(
            ["--frames", "3", "--size", "64", "--workdir", str(tmp_path / "w"), "--out", str(out)]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert report["off"]["refs_per_frame"] == [0, 0, 0]
    assert report["on"]["refs_per_frame"][0] == 0 and all(n > 0 for n in report["on"]["refs_per_frame"][1:])
    for row in (report["on"], report["off"]):
        assert row["pairs"] == 3 and -1 <= row["mean_shared_subject_similarity"] <= 1
        assert set(row["stage_s"]) == {"load", "retrieval", "inference", "library"}
