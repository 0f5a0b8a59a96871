"""Adapter heads: identity at start, InfoNCE training recovers a hidden rotation, files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.library.adapter import (
    Adapter,
    TrainConfig,
    load_adapter,
    save_adapter,
    split_by_key,
    text_to_image_metrics,
    train_adapter,
)


def rotated_pairs(n: int = 400, dim: int = 32, noise: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Image vectors, and text vectors = a fixed random rotation of them plus noise."""
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(n, dim)).astype(np.float32)
    image /= np.linalg.norm(image, axis=1, keepdims=True)
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    text = image @ rotation + noise * rng.normal(size=(n, dim)) / np.sqrt(dim)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    return image, text.astype(np.float32)


def test_heads_start_as_the_identity() -> None:
    image, text = rotated_pairs(10)
    adapter = Adapter(32, 32)
    assert np.allclose(adapter.project("text", text), text, atol=1e-6)
    assert np.allclose(adapter.project("image", image), image, atol=1e-6)
    with pytest.raises(ValueError, match="`head` must be one of"):
        adapter.project("edge", image)


def test_metrics_count_every_image_of_a_shared_text_as_relevant() -> None:
    image = np.eye(3, dtype=np.float32)
    text = np.array([[1, 0.5, 0], [1, 0.5, 0], [0, 0, 1]], dtype=np.float32)
    m = text_to_image_metrics(text, image, ["a", "a", "b"])
    assert m == {"MRR": 1.0, "mAP": 1.0, "queries": 2.0}
    swapped = text_to_image_metrics(text, image, ["a", "b", "a"])
    assert swapped["MRR"] == pytest.approx((1 + 1 / 2) / 2)


def test_the_split_keeps_each_text_on_one_side() -> None:
    keys = ["a", "a", "b", "c", "c", "d", "e"]
    train, val = split_by_key(keys, 0.4, seed=1)
    assert sorted([*train, *val]) == list(range(7))
    assert not {keys[i] for i in train} & {keys[i] for i in val}
    with pytest.raises(ValueError, match="at least 2 distinct texts"):
        split_by_key(["a", "a"], 0.5, seed=0)


def test_training_recovers_a_hidden_rotation_on_held_out_pairs() -> None:
    image, text = rotated_pairs()
    keys = [f"item {i}" for i in range(len(image))]
    result = train_adapter(image, text, keys, TrainConfig(epochs=60, batch_size=128, lr=1e-2, seed=0))
    before, after = result.before["validation"], result.after["validation"]
    assert result.n_val == 80 and before["queries"] == 80
    assert before["MRR"] < 0.2, "a random rotation hides the pairs from the frozen baseline"
    assert after["MRR"] > before["MRR"] + 0.5 and after["mAP"] > before["mAP"] + 0.5
    assert result.losses[-1] < result.losses[0]


def test_training_is_deterministic_for_a_seed() -> None:
    image, text = rotated_pairs(120)
    keys = [f"k{i % 60}" for i in range(120)]
    a = train_adapter(image, text, keys, TrainConfig(epochs=5, seed=3))
    b = train_adapter(image, text, keys, TrainConfig(epochs=5, seed=3))
    assert a.after == b.after and a.losses == b.losses


def test_a_text_tower_of_another_dimension_starts_from_the_ridge_map() -> None:
    image, text = rotated_pairs(200, dim=16)
    wide = np.hstack([text, np.zeros((200, 8), dtype=np.float32)])  # 24-dim text, 16-dim image
    keys = [f"item {i}" for i in range(200)]
    result = train_adapter(image, wide, keys, TrainConfig(epochs=20, lr=1e-2, heads=("text",)))
    assert result.before["validation"]["MRR"] > 0.5, "the closed-form start already aligns them"
    assert result.after["validation"]["MRR"] >= result.before["validation"]["MRR"] - 0.05
    assert np.allclose(result.adapter.project("image", image), image, atol=1e-6), "the image head was frozen"


def test_saved_adapters_load_back_with_their_metadata(tmp_path: Path) -> None:
    image, text = rotated_pairs(60)
    result = train_adapter(image, text, [str(i) for i in range(60)], TrainConfig(epochs=2))
    meta: dict[str, Any] = {"model": "clippy-tiny", "epochs": 2, "metrics": {"after": result.after}}
    weights, sidecar = save_adapter(result.adapter, tmp_path / "ad" / "tags", meta)
    assert weights.name == "tags.safetensors" and json.loads(sidecar.read_text())["imageDim"] == 32
    loaded, loaded_meta = load_adapter(tmp_path / "ad" / "tags")
    assert loaded_meta["model"] == "clippy-tiny"
    assert np.allclose(loaded.project("text", text), result.adapter.project("text", text), atol=1e-6)


def test_finetune_script_trains_on_a_collection_and_writes_table_and_files(
    planted: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts import finetune_adapter
    from tests.conftest import TINY_MODEL

    for key, value in TINY_MODEL.items():
        monkeypatch.setenv(key, value)
    settings = planted["settings"]
    args = [
        "--collection",
        settings.COLLECTION,
        "--adapters-root",
        str(tmp_path / "adapters"),
        "--epochs",
        "3",
        "--name",
        "tags",
        "--report",
        str(tmp_path / "report.json"),
        "--val-fraction",
        "0.3",
    ]
    assert finetune_adapter.main(args, store=planted["store"]) == 0
    out = capsys.readouterr().out
    assert "MRR before" in out and "validation" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["model"] == "clippy-tiny" and report["textSource"] == "clip" and report["epochs"] == 3
    assert set(report["metrics"]["after"]) == {"train", "validation"}
    assert (tmp_path / "adapters" / settings.COLLECTION / "tags.safetensors").is_file()
    stored = ["--text-source", "stored", "--heads", "text", *args]
    assert finetune_adapter.main(stored, store=planted["store"]) == 0
    assert json.loads((tmp_path / "report.json").read_text())["textSource"] == "stored"
