"""Encoders for the three dense views, and the sparse tag terms.

`Encoders` bundles what a collection's embedding space needs: the OpenCLIP model (image
tower for `image` and `edge`; text tower for text→image), and the `text` view's encoder
(the same OpenCLIP text tower, or a sentence-transformers model) — and, when the setting
`ADAPTER` names one, the trained projection heads of app/embedding/adapter.py: `adapt("image", …)`
maps picture vectors and `image_text` encodes text queries of the `image` view through them.
The `edge` and `text` views stay as the frozen towers make them (no head was trained there).
The `shape` view needs no model: HOG of the `edge` view's line drawing (app/embedding/shape.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from app.config import Settings
from app.embedding.base import ImageEncoder, TextEncoder, l2_normalize
from app.embedding.clip import OpenClipModel, register_model_configs
from app.embedding.device import resolve_device
from app.embedding.edges import EDGE_VERSION, edge_map, edge_params_record, normalize_sketch
from app.embedding.shape import SHAPE_VERSION, shape_params_record

if TYPE_CHECKING:
    from app.embedding.adapter import AppliedAdapter

__all__ = [
    "EDGE_VERSION",
    "SHAPE_VERSION",
    "Encoders",
    "ImageEncoder",
    "TextEncoder",
    "edge_map",
    "l2_normalize",
    "load_encoders",
    "normalize_sketch",
]

log = logging.getLogger(__name__)


class AdaptedTextEncoder(TextEncoder):
    """A text tower followed by an adapter's text head: text queries of the `image` view."""

    def __init__(self, base: TextEncoder, adapter: AppliedAdapter, dim: int) -> None:
        self.base, self.adapter = base, adapter
        self.name = f"{base.name}+{adapter.identity['name']}"
        self.dim = dim

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self.adapter.project_text(self.base.encode_texts(texts))


@dataclass
class Encoders:
    clip: OpenClipModel
    text: TextEncoder  # the `text` view's encoder; may be `clip` itself
    text_template: str
    adapter: AppliedAdapter | None = None  # setting ADAPTER; part of the embedding space
    # Text → `image` view: `clip` itself, or an AdaptedTextEncoder when the adapter has a text head.
    image_text: TextEncoder = field(init=False)

    def __post_init__(self) -> None:
        self.image_text = self.clip
        if self.adapter is not None and self.adapter.text_head:
            base = self.clip if self.adapter.text_input == "clip" else self.text
            self.image_text = AdaptedTextEncoder(base, self.adapter, self.clip.dim)

    @property
    def image(self) -> ImageEncoder:
        return self.clip

    def adapt(self, view: str, rows: np.ndarray) -> np.ndarray:
        """Image-tower vectors of `view` as the collection stores them: `image` picture vectors
        through the adapter's image head (unit length); anything else unchanged."""
        if view != "image" or self.adapter is None:
            return rows
        return self.adapter.project_image(rows)

    def space(self) -> dict[str, Any]:
        """What a collection records about the embedding space that wrote it."""
        return {
            "model": self.clip.name,
            "pretrained": self.clip.pretrained,
            # PRETRAINED=random: the seed the weights were drawn from (None with real weights).
            "seed": self.clip.seed,
            "image_dim": self.clip.dim,
            "text_model": "clip" if self.text is self.clip else self.text.name,
            "text_dim": self.text.dim,
            "text_template": self.text_template,
            "edge": edge_params_record(),
            "shape": shape_params_record(),
            "adapter": self.adapter.identity if self.adapter is not None else None,
        }

    def tags_text(self, tags: list[str], caption: str | None = None) -> str | None:
        """The sentence the `text` view embeds for an item, or None when it has no words."""
        words = ", ".join(t.replace("_", " ") for t in tags if t)
        if caption:
            return f"{caption}. {self.text_template.format(tags=words)}" if words else caption
        return self.text_template.format(tags=words) if words else None


def load_encoders(settings: Settings) -> Encoders:
    device = resolve_device(settings.DEVICE)
    register_model_configs(settings.MODEL_CONFIGS)
    clip = OpenClipModel(
        settings.MODEL_NAME, settings.PRETRAINED, device, settings.MODEL_CACHE_DIR, seed=settings.RANDOM_SEED
    )
    if settings.TEXT_MODEL.lower() == "clip":
        text: TextEncoder = clip
    else:
        from app.embedding.sentence import SentenceTextEncoder

        text = SentenceTextEncoder(settings.TEXT_MODEL, device, settings.MODEL_CACHE_DIR)
    log.info(
        "encoders: %s/%s on %s (dim %d), text view: %s (dim %d), torch threads %d",
        clip.name,
        clip.pretrained,
        device,
        clip.dim,
        settings.TEXT_MODEL,
        text.dim,
        torch.get_num_threads(),
    )
    adapter = None
    if settings.ADAPTER:
        from app.embedding.adapter import open_adapter, resolve_adapter

        path = resolve_adapter(settings.ADAPTER, settings.ADAPTERS_ROOT, settings.COLLECTION)
        adapter = open_adapter(
            path,
            model=clip.name,
            pretrained=clip.pretrained,
            image_dim=clip.dim,
            text_model=settings.TEXT_MODEL,
            text_dim=text.dim,
        )
        log.info("adapter %s (%s): heads %s", adapter.identity["name"], path, adapter.identity["heads"])
    return Encoders(clip=clip, text=text, text_template=settings.TEXT_TEMPLATE, adapter=adapter)
