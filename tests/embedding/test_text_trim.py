"""The text tower on the text's tokens only gives OpenCLIP's features for the whole context."""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
import torch

from app.embedding.clip import OpenClipModel, register_model_configs
from app.embedding.text_trim import trimmed_text_features, trims
from tests.support.settings import TINY_MODEL

TEXTS = ["a cat", "", "a red bicycle leaning on a wall under a street lamp at night, drawn in ink", "x " * 80]


@pytest.fixture(scope="module")
def model() -> OpenClipModel:
    from pathlib import Path

    register_model_configs(Path(TINY_MODEL["MODEL_CONFIGS"]))
    return OpenClipModel(TINY_MODEL["MODEL_NAME"], "random", torch.device("cpu"), seed=3)


def test_trimmed_features_equal_the_full_context(model: OpenClipModel) -> None:
    assert model._trims
    tokens = open_clip.get_tokenizer(model.name)(TEXTS)
    with torch.inference_mode():
        full = model.model.encode_text(tokens).numpy()
        one_by_one = np.concatenate([trimmed_text_features(model.model, t[None]).numpy() for t in tokens])
        batched = trimmed_text_features(model.model, tokens).numpy()
    # Alone each text runs on its own length; in a batch on the longest one's: the same features.
    np.testing.assert_allclose(one_by_one, full, atol=1e-5)
    np.testing.assert_allclose(batched, full, atol=1e-5)
    # The service's path uses it: its vectors are the full context's, normalised.
    want = full / np.linalg.norm(full, axis=1, keepdims=True)
    np.testing.assert_allclose(model.encode_texts(TEXTS), want, atol=1e-5)


def test_other_towers_keep_the_full_context(model: OpenClipModel) -> None:
    class NotClip(torch.nn.Module):
        pass

    assert not trims(NotClip(), open_clip.get_tokenizer(model.name))
    assert not trims(model.model, object())  # another tokenizer may pad differently
