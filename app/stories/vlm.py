"""A local vision-language model through transformers' image-text-to-text models.

Any model `AutoModelForImageTextToText` + `AutoProcessor` load whose processor has a chat
template: LLaVA-1.5 (the seed's `llava-hf/llava-1.5-7b-hf`), SmolVLM, Qwen2-VL, Idefics3….
The request is one user turn `[image, instruction]` through the processor's own chat
template, so the image token lands where the model was trained to see it. fp16 on CUDA,
fp32 on CPU; STORY_LOAD_IN_8BIT loads 8-bit weights through bitsandbytes (CUDA only).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PIL import Image

from app.config import Settings
from app.embedding.availability import hub_load_kwargs
from app.errors import WeightsUnavailableError
from app.stories.base import StoryProvider

log = logging.getLogger(__name__)

GPU_DEFAULT = "llava-hf/llava-1.5-7b-hf"
CPU_DEFAULT = "HuggingFaceTB/SmolVLM-256M-Instruct"


def default_story_model(settings: Settings) -> str:
    """STORY_MODEL, or what fits the device: the seed's LLaVA-1.5 on CUDA, SmolVLM on CPU."""
    if settings.STORY_MODEL:
        return settings.STORY_MODEL
    from app.embedding.device import resolve_device

    return GPU_DEFAULT if resolve_device(settings.DEVICE).type == "cuda" else CPU_DEFAULT


def messages(instruction: str) -> list[dict[str, Any]]:
    """One user turn: the picture first, then what to write (the layout chat VLMs train on)."""
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": instruction}]}]


class TransformersStoryProvider(StoryProvider):
    name = "transformers"

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._model_id = default_story_model(settings)
        self._processor: Any = None
        self._model: Any = None
        self._device: Any = None
        super().__init__(
            load_timeout_s=settings.MODEL_LOAD_TIMEOUT_S,
            retry_s=settings.MODEL_RETRY_S,
            idle_unload_s=settings.MODEL_IDLE_UNLOAD_S,
            clock=clock,
        )

    @property
    def model_name(self) -> str:
        return self._model_id

    @property
    def model(self) -> Any:
        """The loaded model (None when not loaded): tests watch it being collected."""
        return self._model

    def configured(self) -> str | None:
        if self.settings.STORY_LOAD_IN_8BIT:
            from app.embedding.device import resolve_device

            if resolve_device(self.settings.DEVICE).type != "cuda":
                return (
                    "STORY_LOAD_IN_8BIT needs CUDA (bitsandbytes 8-bit weights run on NVIDIA GPUs only) and this "
                    "server runs on the CPU; unset STORY_LOAD_IN_8BIT or run on a GPU."
                )
        return None

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from app.embedding.device import resolve_device

        s = self.settings
        if why := self.configured():
            raise WeightsUnavailableError(why, model=self._model_id)
        device = resolve_device(s.DEVICE)
        kwargs = hub_load_kwargs({"STORY_MODEL": self._model_id}, s.MODEL_CACHE_DIR)
        model_kwargs: dict[str, Any] = {"dtype": torch.float16 if device.type == "cuda" else torch.float32}
        if s.STORY_LOAD_IN_8BIT:
            try:
                import bitsandbytes  # noqa: F401  # type: ignore[import-not-found, unused-ignore]
                from transformers import BitsAndBytesConfig
            except ImportError as e:
                raise WeightsUnavailableError(
                    "STORY_LOAD_IN_8BIT needs the `bitsandbytes` package: pip install bitsandbytes.",
                    model=self._model_id,
                ) from e
            model_kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)  # type: ignore[no-untyped-call]
            model_kwargs["device_map"] = {"": device.index or 0}
        try:
            self._processor = AutoProcessor.from_pretrained(self._model_id, **kwargs)  # type: ignore[no-untyped-call]
            model: Any = AutoModelForImageTextToText.from_pretrained(self._model_id, **model_kwargs, **kwargs)
        except (OSError, ValueError) as e:
            raise WeightsUnavailableError(
                f"Could not load STORY_MODEL={self._model_id!r}: {e}", model=self._model_id
            ) from e
        if getattr(self._processor, "chat_template", None) is None:
            raise WeightsUnavailableError(
                f"STORY_MODEL={self._model_id!r} has no chat template; pick an instruction-tuned VLM "
                "(LLaVA-1.5, SmolVLM-Instruct, Qwen2-VL-Instruct).",
                model=self._model_id,
            )
        if not s.STORY_LOAD_IN_8BIT:  # 8-bit weights are placed by device_map
            model.to(device)
        self._model = model.eval()
        self._device = device
        log.info("story model %s loaded on %s", self._model_id, device)

    def prompt_text(self, instruction: str) -> str:
        """The templated prompt the model sees (tests assert where the image goes)."""
        text: str = self._processor.apply_chat_template(messages(instruction), add_generation_prompt=True)
        return text

    def inputs(self, image: Image.Image, instruction: str) -> Any:
        return self._processor(images=[image], text=self.prompt_text(instruction), return_tensors="pt")

    def _tell(self, image: Image.Image, instruction: str) -> str:
        import torch

        inputs = self.inputs(image, instruction)
        dtype = self._model.dtype
        inputs = {
            k: v.to(self._device, dtype=dtype) if v.is_floating_point() else v.to(self._device)
            for k, v in inputs.items()
        }
        with torch.inference_mode():
            ids = self._model.generate(**inputs, max_new_tokens=self.settings.STORY_MAX_TOKENS, do_sample=False)
        # Only the answer: the prompt's tokens come back first.
        new = ids[:, inputs["input_ids"].shape[1] :]
        text: str = self._processor.batch_decode(new, skip_special_tokens=True)[0]
        return text.strip()

    def _unload(self) -> None:
        self._model = None
        self._processor = None
