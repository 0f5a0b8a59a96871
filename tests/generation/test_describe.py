"""POST /images/describe on a tiny random-weight BLIP built in code (no download)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from app.config import Settings
from app.generation.describe import build_describer
from tests.support.generation import data_url, make_app, png, resolver


@pytest.fixture(scope="session")
def tiny_blip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    folder = tmp_path_factory.mktemp("tiny-blip")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghijklmnopqrstuvwxyz", "photo", "cat"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    processor = BlipProcessor(
        image_processor=BlipImageProcessor(size={"height": 32, "width": 32}),
        tokenizer=BertTokenizer(os.fspath(folder / "vocab.txt")),
    )
    config = BlipConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 64,
            "bos_token_id": 2,
            "sep_token_id": 3,
            "eos_token_id": 3,
            "pad_token_id": 0,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=32,
    )
    torch.manual_seed(0)
    model_dir = folder / "blip"
    BlipForConditionalGeneration(config).save_pretrained(model_dir)
    processor.save_pretrained(model_dir)
    return model_dir


@pytest.fixture
def describe_settings(settings: Settings, tiny_blip: Path) -> Settings:
    return settings.model_copy(update={"DESCRIBE_MODEL": str(tiny_blip), "DESCRIBE_MAX_TOKENS": 6})


def test_the_describer_captions_an_image_deterministically(describe_settings: Settings) -> None:
    describer = build_describer(describe_settings)
    image = Image.new("RGB", (40, 30), (200, 10, 10))
    first = describer.caption(image)
    assert first and first == describer.caption(image)
    assert describer.caption(image, prompt="photo").startswith("photo")
    with pytest.raises(ValueError, match="Unknown describe backend"):
        build_describer(describe_settings, "nope")


def test_describe_answers_a_caption_for_a_file_a_data_url_or_an_id(
    describe_settings: Settings, library: dict[str, Path]
) -> None:
    app, _, _ = make_app(describe_settings, {}, resolve_library_image=resolver(library))
    with TestClient(app) as client:
        by_file = client.post("/images/describe", files={"image": ("a.png", png((9, 9, 9)), "image/png")})
        by_url = client.post("/images/describe", json={"image": data_url((9, 9, 9))})
        by_id = client.post("/images/describe", json={"id": "id-red"})
        missing = client.post("/images/describe", json={"id": "nope"})
        none = client.post("/images/describe", json={})
    assert by_file.status_code == by_url.status_code == by_id.status_code == 200, by_file.text
    assert by_file.json()["caption"] and by_file.json()["model"] == describe_settings.DESCRIBE_MODEL
    assert by_file.json()["caption"] == by_url.json()["caption"]
    assert missing.status_code == 404
    assert none.status_code == 422 and "exactly one" in none.json()["error"]["message"]
