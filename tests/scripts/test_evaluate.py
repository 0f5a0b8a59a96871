"""scripts/evaluate.py on a tiny synthetic set whose right answers are known.

With random weights nothing semantic can be asked of the CLIP views, but some answers
are exact whatever the weights: a text query naming an item's unique tag finds it through
the sparse `tags` view; an example image finds itself through the `image` view and the
HOG baseline; a sketch that is the item's own edge map finds it through `edge` and HOG.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import evaluate
from app.embedding import edge_map
from tests.support.images import shape_image
from tests.support.settings import FIXTURES

WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()


@pytest.fixture(scope="module")
def eval_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 library pictures, each with a unique tag; one query per item with sketch, text and image."""
    root = tmp_path_factory.mktemp("evalset")
    manifest, queries = [], []
    for i, word in enumerate(WORDS):
        img = shape_image(i % 3, seed=i, size=96)
        lib, sketch = f"library/{word}.png", f"sketches/{word}.png"
        for rel in (lib, sketch):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
        img.save(root / lib)
        edge_map(img).save(root / sketch)
        category = ["round", "square", "pointy"][i % 3]
        manifest.append({"path": lib, "tags": [word, category], "category": category})
        queries.append(
            {
                "id": f"q{i}",
                "sketch": sketch,
                "text": word,
                "image": lib,
                "relevant": [lib],
                "relevantLabels": [category],
            }
        )
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in manifest))
    (root / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries))
    return root


def _args(root: Path, tmp: Path, *extra: str) -> list[str]:
    return [
        "--set", str(root),
        "--model", "clippy-tiny", "--pretrained", "random", "--text-model", "clip",
        "--model-configs", str(FIXTURES / "model_configs"), "--device", "cpu",
        "--qdrant-path", str(tmp / "qdrant"), "--collection", "eval",
        "--ingest", "--threads", "1", "--depth", "12", "--k", "3", "--step", "0.5",
        "--out", str(tmp / "out" / "eval.json"),
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def report(eval_set: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("evalrun")
    assert evaluate.main(_args(eval_set, tmp)) == 0
    data = json.loads((tmp / "out" / "eval.json").read_text())
    data["_out"] = str(tmp / "out")
    return data


def _row(report: dict[str, object], mode: str, config: str) -> dict[str, float]:
    rows = [r for r in report["results"] if r["mode"] == mode and r["config"] == config]  # type: ignore[attr-defined]
    assert len(rows) == 1, (mode, config)
    return rows[0]


def test_unique_tag_text_queries_are_found_first_by_the_tags_view(report: dict[str, object]) -> None:
    row = _row(report, "text", "tags only")
    assert row["queries"] == len(WORDS)
    for name in ("mAP@3", "mAP@all", "R@3", "MRR", "nDCG@3"):
        assert row[name] == 1.0, name
    assert row["P@3"] == pytest.approx(1 / 3, abs=1e-4)  # one relevant item in a top 3


def test_example_images_find_themselves_in_the_image_view_and_by_hog(report: dict[str, object]) -> None:
    assert _row(report, "image", "image only")["MRR"] == 1.0
    assert _row(report, "image", evaluate.HOG)["MRR"] == 1.0


def test_a_sketch_that_is_the_items_edge_map_is_found_by_edge_and_hog(report: dict[str, object]) -> None:
    assert _row(report, "sketch", evaluate.HOG)["MRR"] == 1.0
    assert _row(report, "sketch", "edge only")["MRR"] >= 0.9
    # The stored `shape` view is the same descriptor (coarser), searched through the service.
    assert _row(report, "sketch", "shape only")["MRR"] == 1.0
    assert _row(report, "image", "shape only")["MRR"] == 1.0


def test_the_grid_covers_views_weights_tags_and_both_fusion_methods(report: dict[str, object]) -> None:
    rows = [r for r in report["results"] if r["mode"] == "sketch+text"]  # type: ignore[attr-defined]
    names = {r["config"] for r in rows}
    assert {"image only", "edge only", "text only", "tags only"} <= names
    hybrids = [r for r in rows if r["kind"] == "hybrid"]
    assert {r["rerank"] for r in hybrids} == {False, True}
    assert any("tags" in r["weights"] for r in hybrids) and any("tags" not in r["weights"] for r in hybrids)
    # step 0.5 over three dense views: 6 weightings, 3 of them mixed; × tags off/on × fusion/rerank,
    # plus the 3 single dense views with tags on × fusion/rerank, plus `shape` paired half and half
    # with each of the 3 others × tags off/on × fusion/rerank.
    assert len(hybrids) == 3 * 2 * 2 + 3 * 2 + 3 * 2 * 2
    pairs = {r["config"] for r in hybrids if "shape" in r["weights"]}
    assert {"edge=0.5 shape=0.5 rerank", "txt=0.5 shape=0.5 tags=0.5 fusion"} <= pairs
    for r in rows:
        for name in ("mAP@3", "mAP@all", "P@3", "R@3", "MRR", "nDCG@3"):
            assert 0.0 <= r[name] <= 1.0


def test_writes_json_and_plots(report: dict[str, object]) -> None:
    out = Path(str(report["_out"]))
    assert (out / "eval_views.png").stat().st_size > 0
    assert (out / "eval_simplex_sketch_text.png").stat().st_size > 0
    assert report["random_clip_weights"] is True


def test_a_second_run_with_another_seed_is_refused(
    eval_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert evaluate.main(_args(eval_set, tmp_path, "--modes", "text", "--no-hog", "--plots", "")) == 0
    assert not list(tmp_path.glob("*.png")), "--plots '' draws nothing, not into the working directory"
    with pytest.raises(SystemExit, match="--seed"):
        evaluate.main(_args(eval_set, tmp_path, "--modes", "text", "--seed", "1"))


def test_simplex_steps_sum_to_one_and_bad_steps_are_refused() -> None:
    points = evaluate.simplex(["image", "edge", "text"], 0.25)
    assert len(points) == 15
    assert all(abs(sum(p.values()) - 1) < 1e-9 for p in points)
    with pytest.raises(SystemExit, match="--step"):
        evaluate.simplex(["image"], 0.3)


def test_label_relevance_counts_every_item_of_the_category(eval_set: Path) -> None:
    library = evaluate.read_library(eval_set / "manifest.jsonl")
    q = evaluate.read_queries(eval_set / "queries.jsonl", eval_set)[0]
    assert evaluate.relevant_for(q, "sketch", "labels", library) == {
        f"library/{w}.png" for i, w in enumerate(WORDS) if i % 3 == 0
    }
    assert evaluate.relevant_for(q, "sketch", "auto", library) == {"library/alpha.png"}


def test_every_mode_has_a_defaults_row_and_a_recommendation_from_its_grid(report: dict[str, object]) -> None:
    results = report["results"]  # type: ignore[index]
    recommended = report["recommended_defaults"]  # type: ignore[index]
    for mode in ("sketch", "text", "sketch+text", "image"):
        row = _row(report, mode, evaluate.DEFAULTS)
        assert row["kind"] == "defaults" and 0.0 <= row["mAP@3"] <= 1.0
        grid = [r for r in results if r["mode"] == mode and r["kind"] in ("single", "hybrid")]
        best = max(r["mAP@3"] for r in grid)
        rec = recommended[mode]
        assert rec["mAP@3"] == best and rec["defaults mAP@3"] == row["mAP@3"]
        chosen = _row(report, mode, rec["config"])
        assert {v: w for v, w in rec["weights"].items() if w > 0} == chosen["weights"]
        assert rec["rerank"] is chosen["rerank"]
    # Random weights and TEXT_MODEL=clip: the shipped defaults give those views nothing.
    assert set(report["defaults"]["without_signal"]) == {"image", "edge", "text"}  # type: ignore[index]
    # Text queries naming a unique tag: the defaults (tags alone here) find every one first.
    assert _row(report, "text", evaluate.DEFAULTS)["MRR"] == 1.0


def test_the_written_defaults_table_loads_and_cites_the_run(eval_set: Path, tmp_path: Path) -> None:
    from app.search.defaults import DefaultsTable

    table_path = tmp_path / "defaults.json"
    argv = _args(eval_set, tmp_path, "--modes", "text", "--no-hog", "--plots", "", "--write-defaults", str(table_path))
    assert evaluate.main(argv) == 0
    table = DefaultsTable.from_json(json.loads(table_path.read_text()))
    assert "evaluate.py on evalset" in table.source and "eval.json" in table.source
    report = json.loads((tmp_path / "out" / "eval.json").read_text())
    rec = report["recommended_defaults"]["text"]
    assert table.kinds["text"].weights == rec["weights"] and table.kinds["text"].rerank is rec["rerank"]
