"""Encoders for the three dense views, and the sparse tag terms.

`Encoders` bundles what a collection's embedding space needs: the OpenCLIP model (image
tower for `image` and `edge`; text tower for text→image), and the `text` view's encoder
(the same OpenCLIP text tower, or a sentence-transformers model).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch

from app.config import Settings
from app.embedding.base import ImageEncoder, TextEncoder, l2_normalize
from app.embedding.clip import OpenClipModel, register_model_configs
from app.embedding.device import resolve_device
from app.embedding.edges import EDGE_VERSION, edge_map, edge_params_record, normalize_sketch

__all__ = [
    "EDGE_VERSION",
    "Encoders",
    "ImageEncoder",
    "TextEncoder",
    "edge_map",
    "l2_normalize",
    "load_encoders",
    "normalize_sketch",
]

log = logging.getLogger(__name__)


@dataclass
class Encoders:
    clip: OpenClipModel
    text: TextEncoder  # the `text` view's encoder; may be `clip` itself
    text_template: str

    @property
    def image(self) -> ImageEncoder:
        return self.clip

    def space(self) -> dict[str, Any]:
        """What a collection records about the embedding space that wrote it."""
        return {
            "model": self.clip.name,
            "pretrained": self.clip.pretrained,
            "image_dim": self.clip.dim,
            "text_model": "clip" if self.text is self.clip else self.text.name,
            "text_dim": self.text.dim,
            "text_template": self.text_template,
            "edge": edge_params_record(),
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
    clip = OpenClipModel(settings.MODEL_NAME, settings.PRETRAINED, device, settings.MODEL_CACHE_DIR)
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
    return Encoders(clip=clip, text=text, text_template=settings.TEXT_TEMPLATE)
