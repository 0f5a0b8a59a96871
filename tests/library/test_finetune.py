"""Unfreezing the last blocks of each OpenCLIP tower (scripts/finetune_adapter.py
--unfreeze-blocks): which parameters learn, early stopping on validation MRR, and a full
checkpoint that PRETRAINED=<path> loads through the app's encoder loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import open_clip
import pytest
import torch
from safetensors.torch import load_file

from app.embedding import load_encoders
from app.library.finetune import UnfreezeConfig, finetune_towers, save_checkpoint, unfreeze_last_blocks
from tests.support.images import shape_image
from tests.support.settings import TINY_MODEL, tiny_settings


def _tiny(tmp_path: Path) -> Any:
    torch.manual_seed(0)
    return load_encoders(tiny_settings(tmp_path)).clip


def test_only_the_last_blocks_and_the_heads_learn(tmp_path: Path) -> None:
    model = _tiny(tmp_path).model
    backbone, heads = unfreeze_last_blocks(model, 1)
    learning = {name for name, p in model.named_parameters() if p.requires_grad}
    assert learning, "something learns"
    assert all(".resblocks.1." in n for n in learning if "resblocks" in n), "only the last of the two blocks"
    assert any(n.startswith("visual.transformer.resblocks.1.") for n in learning)
    assert any(n.startswith("transformer.resblocks.1.") for n in learning)
    assert {"visual.proj", "text_projection", "logit_scale"} <= learning
    assert "token_embedding.weight" not in learning and "visual.conv1.weight" not in learning
    assert sum(p.numel() for p in backbone + heads) == sum(p.numel() for p in model.parameters() if p.requires_grad)
    with pytest.raises(ValueError, match="has 2 blocks"):
        unfreeze_last_blocks(model, 3)


def _rows(tmp_path: Path, n: int = 18) -> tuple[list[Path], list[str]]:
    words = ["circle", "square", "triangle"]
    paths, keys = [], []
    for i in range(n):
        path = tmp_path / f"{i}.png"
        shape_image(i % 3, i).save(path)
        paths.append(path)
        keys.append(f"a {words[i % 3]} number {i % 6}")
    return paths, keys


def test_training_keeps_the_best_epoch_and_stops_early(tmp_path: Path) -> None:
    clip = _tiny(tmp_path)
    paths, keys = _rows(tmp_path)
    seen: list[tuple[int, float, float]] = []
    config = UnfreezeConfig(blocks=1, epochs=40, batch_size=8, lr=1e-3, backbone_lr=1e-4, patience=2, val_fraction=0.34)
    tokenizer = open_clip.get_tokenizer("clippy-tiny")
    result = finetune_towers(
        clip.model, clip.preprocess, tokenizer, paths, keys, config, on_epoch=lambda *a: seen.append(a)
    )
    assert result.epochs_run == len(seen) == len(result.val_mrr) and result.epochs_run <= 40
    assert result.n_train + result.n_val == len(paths)
    best = max([result.before["validation"]["MRR"], *result.val_mrr])
    assert result.after["validation"]["MRR"] == pytest.approx(best, abs=1e-6), "the best epoch's weights are kept"
    if result.epochs_run < 40:  # stopped early: the last `patience` epochs did not beat the best
        assert max(result.val_mrr[-2:]) <= best
    assert not any(p.requires_grad for p in clip.model.parameters())
    assert all(loss == loss for loss in result.losses)  # no NaN


def test_a_saved_checkpoint_loads_through_pretrained(tmp_path: Path) -> None:
    clip = _tiny(tmp_path)
    with torch.no_grad():
        clip.model.text_projection.mul_(-1.5)  # weights no random seed would give
    path = save_checkpoint(clip.model, tmp_path / "tuned")
    assert path.suffix == ".safetensors"
    loaded = load_encoders(tiny_settings(tmp_path / "b", PRETRAINED=str(path))).clip
    assert not loaded.random_weights and loaded.seed is None
    saved = load_file(path)
    state = loaded.model.state_dict()
    assert set(saved) == set(state) and all(torch.equal(saved[k], state[k]) for k in saved)
    assert (loaded.encode_texts(["a circle"]) == clip.encode_texts(["a circle"])).all()


def test_the_script_compares_frozen_adapter_and_unfrozen_on_one_split(
    planted: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import finetune_adapter

    for key, value in TINY_MODEL.items():
        monkeypatch.setenv(key, value)
    settings = planted["settings"]
    args = ["--collection", settings.COLLECTION, "--adapters-root", str(tmp_path / "a"), "--name", "deep"]
    args += ["--unfreeze-blocks", "1", "--epochs", "3", "--patience", "2", "--batch-size", "4", "--val-fraction", "0.3"]
    args += ["--images-root", str(planted["root"]), "--report", str(tmp_path / "report.json")]
    assert finetune_adapter.main(args, store=planted["store"]) == 0
    out = capsys.readouterr().out
    assert "MRR frozen" in out and "MRR adapter" in out and "MRR unfrozen" in out and "PRETRAINED=" in out
    report = json.loads((tmp_path / "report.json").read_text())
    metrics = report["metrics"]
    for split in ("train", "validation"):  # one split for all three
        assert (
            metrics["before"][split]["queries"]
            == metrics["adapter"][split]["queries"]
            == metrics["after"][split]["queries"]
        )
    assert report["unfreezeBlocks"] == 1 and 1 <= report["epochsRun"] <= 3 and report["trainable"]["backbone"] > 0
    checkpoint = Path(report["enable"]["PRETRAINED"])
    assert checkpoint == tmp_path / "a" / settings.COLLECTION / "deep-clip.safetensors" and checkpoint.is_file()
    assert load_encoders(tiny_settings(tmp_path / "c", PRETRAINED=str(checkpoint))).clip.dim == 32


def test_unfreezing_needs_the_clip_text_tower() -> None:
    import finetune_adapter

    with pytest.raises(SystemExit):
        finetune_adapter.parse_args(["--unfreeze-blocks", "1", "--text-source", "stored"])
    with pytest.raises(SystemExit):
        finetune_adapter.parse_args(["--unfreeze-blocks", "1", "--patience", "0"])
