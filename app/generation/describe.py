"""Image → text: a captioning / small VLM model through transformers (DESCRIBE_MODEL).

Behind POST /images/describe, and usable by ingestion to caption untagged images::

    describer = build_describer(settings)
    caption = describer.caption(pil_image)          # blocking; loads once, stays warm

Any model `AutoModelForImageTextToText` + `AutoProcessor` can load works for plain
captioning (BLIP, GIT, VisionEncoderDecoder, …); `prompt` is passed as the text input
(BLIP treats it as the caption's beginning).
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

from PIL import Image

from app.config import Settings
from app.embedding.availability import hub_load_kwargs
from app.errors import WeightsUnavailableError
from app.generation.loading import LocalModel

log = logging.getLogger(__name__)


class Describer(LocalModel):
    """Picture (+ optional prompt) → a caption. Subclasses set `name`, `model_name`, `_load`,
    `_caption` (and `_unload`); loading and idle unloading are LocalModel's."""

    name: str
    role = "describe"

    def caption(self, image: Image.Image, prompt: str | None = None) -> str:
        """A caption for `image` (blocking; call from a worker thread)."""
        with self._idle.using():
            self.load()
            with self._lock:
                return self._caption(image.convert("RGB"), prompt).strip()

    @abstractmethod
    def _caption(self, image: Image.Image, prompt: str | None) -> str: ...


class TransformersDescriber(Describer):
    name = "transformers"

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        super().__init__(
            load_timeout_s=settings.MODEL_LOAD_TIMEOUT_S,
            retry_s=settings.MODEL_RETRY_S,
            idle_unload_s=settings.MODEL_IDLE_UNLOAD_S,
            clock=clock,
        )
        self._processor: Any = None
        self._model: Any = None
        self._device: Any = None

    def _unload(self) -> None:
        self._processor = None
        self._model = None

    @property
    def model_name(self) -> str:
        return self.settings.DESCRIBE_MODEL

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from app.embedding.device import resolve_device

        s = self.settings
        device = resolve_device(s.DEVICE)
        kwargs = hub_load_kwargs({"DESCRIBE_MODEL": s.DESCRIBE_MODEL}, s.MODEL_CACHE_DIR)
        try:
            self._processor = AutoProcessor.from_pretrained(s.DESCRIBE_MODEL, **kwargs)  # type: ignore[no-untyped-call]
            self._model = AutoModelForImageTextToText.from_pretrained(
                s.DESCRIBE_MODEL,
                dtype=torch.float16 if device.type == "cuda" else torch.float32,
                **kwargs,
            )
        except (OSError, ValueError) as e:
            raise WeightsUnavailableError(
                f"Could not load DESCRIBE_MODEL={s.DESCRIBE_MODEL!r}: run `clippy models pull describe` or point "
                "it at a local folder.",
                model=s.DESCRIBE_MODEL,
            ).because(e) from e
        self._model.to(device).eval()
        self._device = device
        log.info("describe model %s loaded on %s", s.DESCRIBE_MODEL, device)

    def _caption(self, image: Image.Image, prompt: str | None) -> str:
        import torch

        inputs = self._processor(images=image, text=prompt or None, return_tensors="pt")
        inputs = {
            k: v.to(self._device, dtype=self._model.dtype) if v.is_floating_point() else v.to(self._device)
            for k, v in inputs.items()
        }
        with torch.inference_mode():
            ids = self._model.generate(**inputs, max_new_tokens=self.settings.DESCRIBE_MAX_TOKENS, do_sample=False)
        text: str = self._processor.batch_decode(ids, skip_special_tokens=True)[0]
        return text


def build_describer(settings: Settings, name: str = "transformers") -> Describer:
    match name:
        case "transformers":
            return TransformersDescriber(settings)
        case _:
            raise ValueError(f"Unknown describe backend: {name!r}. Available: ['transformers']")
