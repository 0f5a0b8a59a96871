"""The embedding seam: what the rest of Clippy asks of an encoder."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image


class TextEncoder(ABC):
    """Texts → L2-normalised float32 rows."""

    name: str
    dim: int

    @abstractmethod
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...


class ImageEncoder(ABC):
    """Images → L2-normalised float32 rows, split in two steps so that preprocessing can
    run in worker threads while the model runs on the previous batch."""

    name: str
    dim: int

    @abstractmethod
    def preprocess(self, image: Image.Image) -> Any:
        """CPU work for one image (resize, crop, normalise); thread-safe."""

    @abstractmethod
    def encode_preprocessed(self, batch: Sequence[Any]) -> np.ndarray: ...

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.encode_preprocessed([self.preprocess(img) for img in images])


def l2_normalize(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    normalized: np.ndarray = rows / np.maximum(norms, 1e-12)
    return normalized
