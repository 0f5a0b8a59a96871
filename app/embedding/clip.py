"""OpenCLIP image and text towers, loaded by model name + pretrained tag or checkpoint."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import torch
from PIL import Image

from app.embedding.base import ImageEncoder, TextEncoder, l2_normalize
from app.embedding.text_trim import trimmed_text_features, trims
from app.errors import WeightsUnavailableError

log = logging.getLogger(__name__)

RANDOM = "random"


def register_model_configs(path: Path | None) -> None:
    """Make extra OpenCLIP model configs (a JSON file or a folder of them) loadable by name."""
    if path is not None:
        open_clip.add_model_config(path)


def _weights_error(model_name: str, pretrained: str, reason: object) -> WeightsUnavailableError:
    tags = [tag for name, tag in open_clip.list_pretrained() if name == model_name]
    return WeightsUnavailableError(
        f"Could not load OpenCLIP weights for MODEL_NAME={model_name!r} PRETRAINED={pretrained!r}: "
        f"{reason}. Either let the weights download once on a machine with internet access "
        f"(they are cached under MODEL_CACHE_DIR or ~/.cache/huggingface), or set PRETRAINED to a "
        f"local checkpoint file (.pt, .bin or .safetensors), or PRETRAINED=random for a demo whose "
        f"results are meaningless. Known tags for {model_name!r}: {tags or 'none'}.",
        model=model_name,
        pretrained=pretrained,
    )


class OpenClipModel(ImageEncoder, TextEncoder):
    """Both towers of one OpenCLIP model; fp16 autocast on CUDA."""

    def __init__(
        self,
        model_name: str,
        pretrained: str,
        device: torch.device,
        cache_dir: Path | None = None,
        seed: int = 0,
    ) -> None:
        self.name = model_name
        self.pretrained = pretrained
        self.device = device
        if model_name not in open_clip.list_models():
            raise WeightsUnavailableError(
                f"Model config for MODEL_NAME={model_name!r} not found. "
                f"Available: {open_clip.list_models()}. Add your own with MODEL_CONFIGS.",
                model=model_name,
            )
        random_weights = pretrained.lower() == RANDOM
        if random_weights:
            log.warning(
                "PRETRAINED=random: %s has RANDOM weights. Embeddings and search results are "
                "meaningless; use this for tests and demos only.",
                model_name,
            )
        elif not Path(pretrained).is_file() and pretrained not in open_clip.list_pretrained_tags_by_model(model_name):
            raise _weights_error(model_name, pretrained, "unknown pretrained tag and no such file")
        # Random weights come from `seed` alone (the setting RANDOM_SEED): `clippy ingest`,
        # `clippy serve`, every worker and every restart then hold the same model, and the
        # collection records the seed so that another one is refused. The generator is forked
        # so seeding here leaves the caller's torch RNG as it was.
        with torch.random.fork_rng(devices=[]):
            if random_weights:
                torch.manual_seed(seed)
            try:
                # open_clip initialises on the CPU and moves the model afterwards, so the CPU
                # generator alone decides the weights, on any DEVICE.
                model, _, preprocess = open_clip.create_model_and_transforms(
                    model_name,
                    pretrained=None if random_weights else pretrained,
                    device=device,
                    cache_dir=str(cache_dir) if cache_dir else None,
                )
            except Exception as e:  # hub, file and format errors all mean "no usable weights"
                raise _weights_error(model_name, pretrained, e) from e
        model.eval()
        self.model = model
        self._preprocess = preprocess
        self._tokenizer = open_clip.get_tokenizer(model_name)
        self._trims = trims(model, self._tokenizer)  # the text tower on the text's tokens only
        self.random_weights = random_weights
        # Part of the embedding space only when it decides the weights.
        self.seed: int | None = seed if random_weights else None
        self.dim = 0
        # Configs name the width in different places per architecture; asking the text
        # tower once is exact for all of them.
        self.dim = int(self.encode_texts(["x"]).shape[-1])

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        if self.device.type == "cuda":
            with torch.autocast("cuda", dtype=torch.float16):
                yield
        else:
            yield

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        tensor = self._preprocess(image)
        assert isinstance(tensor, torch.Tensor)
        return tensor

    def encode_preprocessed(self, batch: Sequence[Any]) -> np.ndarray:
        if not batch:
            return np.zeros((0, self.dim), dtype=np.float32)
        pixels = torch.stack(list(batch)).to(self.device, non_blocking=True)
        with torch.inference_mode(), self._autocast():
            features = self.model.encode_image(pixels)
        return l2_normalize(features.float().cpu().numpy())

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        tokens = self._tokenizer(list(texts)).to(self.device)
        with torch.inference_mode(), self._autocast():
            features = trimmed_text_features(self.model, tokens) if self._trims else self.model.encode_text(tokens)
        return l2_normalize(features.float().cpu().numpy())
