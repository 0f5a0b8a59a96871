"""A Gemini image model (GEMINI_IMAGE_MODEL) through the same google-genai client.

References go in as inline PNG parts, each preceded by a line stating its role and weight;
the instruction explains what roles and weights mean, so weights are honoured by the
model's reading of them (no numeric control). A sketch goes in the same way, as a layout
guide. An edit sends the base image (and the mask, its colours' meaning stated) after the
references, and the instruction says what the edit mode asks for (EDIT_TASKS). Gemini returns one picture per call, so `n` images are `n` calls (progress counts
them); each call gets `seed + i`.
"""

from __future__ import annotations

from typing import Any

from app.config import Settings
from app.errors import ContentBlockedError, ProviderError
from app.generation.base import (
    Capabilities,
    GenerationSpec,
    Hooks,
    ImageProvider,
    ProviderOutput,
    aspect_ratio,
)
from app.generation.google import (
    INT32_MAX,
    decode_png,
    make_client,
    map_google_error,
    missing_configuration,
    png_bytes,
)
from app.generation.models import EditMode

ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "9:16", "16:9", "21:9")
BLOCKED = frozenset(
    {
        "SAFETY",
        "IMAGE_SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
    }
)

ROLE_MEANING = {
    "style": "take its style (palette, line work, texture, mood), not its content",
    "subject": "keep this subject's identity and key features in the new picture",
    "face": "keep this person's face and identity recognisable in the new picture (only the face, not the "
    "clothes, pose or background)",
    "composition": "take only its composition (layout, placement and sizes of the main shapes, camera angle), "
    "not its content or style",
}


# What each masked edit asks for, stated with what the mask's colours mean.
EDIT_TASKS: dict[EditMode, str] = {
    "inpaint-insert": "Change only the white area of the mask to show what the request describes",
    "inpaint-remove": "Remove what is in the white area of the mask and fill it with a seamless continuation of "
    "its surroundings",
    "background-swap": "Replace the background (the white area of the mask) as the request describes; keep the "
    "subject (the black area) exactly as it is",
    "outpaint": "Extend the picture into the white area of the mask, continuing it naturally",
}
MASK_MEANING = "Mask (the same size as the base image): white = the area to change, black = keep exactly as it is, pixel for pixel."


def instruction(spec: GenerationSpec) -> str:
    if spec.base is None:
        lines = [f"Generate one image: {spec.prompt.strip()}" if spec.prompt.strip() else "Generate one image."]
    else:
        lines = [f"Edit the base image: {spec.prompt.strip()}" if spec.prompt.strip() else "Edit the base image."]
        if spec.mask is not None:
            lines.append(f"{EDIT_TASKS[spec.edit_mode or 'inpaint-insert']}. {MASK_MEANING}")
        elif spec.strength is not None:
            lines.append(
                f"Change it with strength {spec.strength:.2f} (0 = keep it as is, 1 = free to redraw it); "
                "keep its subject recognisable."
            )
    if spec.negative_prompt:
        lines.append(f"Avoid: {spec.negative_prompt.strip()}")
    if spec.refs:
        lines.append(
            "Reference images follow, each introduced by its role and a weight from 0 to 1: "
            "weight 1 means follow it closely, 0.5 moderately, near 0 only a hint."
        )
    if spec.sketch is not None and spec.sketch_weight > 0:
        lines.append(f"A sketch follows; use it as the layout of the picture with weight {spec.sketch_weight:.2f}.")
    lines.append(f"Aspect ratio {aspect_ratio(spec.width, spec.height, ASPECT_RATIOS)}.")
    return "\n".join(lines)


class GeminiProvider(ImageProvider):
    name = "gemini"

    def __init__(self, settings: Settings, client: Any = None) -> None:
        super().__init__()
        self.settings = settings
        self._client = client

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            max_refs=self.settings.GENERATION_MAX_REFS,
            max_n=self.settings.GENERATION_MAX_N,
            sketch=True,
            negative_prompt=True,
            ref_weights=True,
            aspect_ratios=ASPECT_RATIOS,
            max_seed=INT32_MAX,
            base_image=True,
            edit_modes=tuple(EDIT_TASKS),
        )

    @property
    def model_name(self) -> str:
        return self.settings.GEMINI_IMAGE_MODEL

    def configured(self) -> str | None:
        return None if self._client is not None else missing_configuration(self.settings)

    def _load(self) -> None:
        if self._client is None:
            self._client = make_client(self.settings)

    def contents(self, spec: GenerationSpec) -> list[Any]:
        from google.genai import types

        parts = [types.Part.from_text(text=instruction(spec))]
        for i, ref in enumerate(spec.refs, start=1):
            parts.append(
                types.Part.from_text(
                    text=f"Reference {i}: {ref.role} reference, weight {ref.weight:.2f} — {ROLE_MEANING[ref.role]}."
                )
            )
            parts.append(types.Part.from_bytes(data=png_bytes(ref.image), mime_type="image/png"))
        if spec.sketch is not None and spec.sketch_weight > 0:
            parts.append(types.Part.from_text(text="Sketch (layout guide):"))
            parts.append(types.Part.from_bytes(data=png_bytes(spec.sketch), mime_type="image/png"))
        if spec.base is not None:
            parts.append(types.Part.from_text(text="Base image (the picture to edit):"))
            parts.append(types.Part.from_bytes(data=png_bytes(spec.base), mime_type="image/png"))
        if spec.mask is not None:
            parts.append(types.Part.from_text(text=MASK_MEANING))
            parts.append(types.Part.from_bytes(data=png_bytes(spec.mask), mime_type="image/png"))
        return [types.Content(role="user", parts=parts)]

    def _generate(self, spec: GenerationSpec, hooks: Hooks) -> ProviderOutput:
        from google.genai import types

        model = self.model_name
        contents = self.contents(spec)
        images = []
        hooks.report(0, spec.n)
        for i in range(spec.n):
            hooks.check_cancelled()
            config = types.GenerateContentConfig(
                response_modalities=["TEXT", "IMAGE"],
                seed=spec.seed + i,
                candidate_count=1,
                image_config=types.ImageConfig(aspect_ratio=aspect_ratio(spec.width, spec.height, ASPECT_RATIOS)),
            )
            try:
                response = self._client.models.generate_content(model=model, contents=contents, config=config)
            except Exception as e:
                raise map_google_error(e, self.name, model) from e
            images.append(decode_png(self._image_bytes(response, model)))
            hooks.report(i + 1, spec.n)
        return ProviderOutput(images=images, model=model, seeds=[spec.seed + i for i in range(spec.n)])

    def _image_bytes(self, response: Any, model: str) -> bytes:
        feedback = getattr(response, "prompt_feedback", None)
        if feedback is not None and feedback.block_reason:
            raise ContentBlockedError(
                f"Gemini blocked the prompt: {_name(feedback.block_reason)}"
                f"{' — ' + feedback.block_reason_message if feedback.block_reason_message else ''}",
                provider=self.name,
            )
        texts: list[str] = []
        for candidate in response.candidates or []:
            for part in (candidate.content.parts if candidate.content else None) or []:
                if part.inline_data is not None and part.inline_data.data:
                    data: bytes = part.inline_data.data
                    return data
                if part.text:
                    texts.append(part.text)
            reason = _name(candidate.finish_reason)
            if reason in BLOCKED:
                raise ContentBlockedError(
                    f"Gemini's safety filter stopped the image: {reason}",
                    provider=self.name,
                )
        said = f" It said: {' '.join(texts)[:300]}" if texts else ""
        raise ProviderError(f"Gemini ({model}) returned no image.{said}", provider=self.name)


def _name(value: Any) -> str:
    return str(getattr(value, "value", value) or "")
