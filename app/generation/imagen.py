"""Imagen on Vertex AI through google-genai.

- No references: `models.generate_images` with IMAGEN_MODEL.
- A `baseImage`: `models.edit_image` with IMAGEN_EDIT_MODEL, the base as a
  `RawReferenceImage` and, with a mask, a `MaskReferenceImage` in MASK_MODE_USER_PROVIDED;
  `editMode` maps to EditMode (EDIT_MODES); without a mask EDIT_MODE_DEFAULT (mask-free
  edit; no strength). Subject/style refs come along as below.
- References and/or a sketch: `models.edit_image` with IMAGEN_EDIT_MODEL (the capability
  model) and `SubjectReferenceImage` / `StyleReferenceImage` (+ a scribble
  `ControlReferenceImage` for the sketch). The prompt names them by reference id, as
  Imagen requires ("… featuring [1], in the style of [2]").

Imagen takes no per-reference weight, so weights are honoured by:
1. dropping references with weight 0,
2. ordering the rest by weight (highest first gets id [1] and comes first in the prompt),
3. prompt emphasis: weight ≥ 0.75 → "featuring exactly …" / "strictly in the style of …",
   < 0.4 → "… something like …" / "loosely in the style of …".
The sketch's weight only switches it on (> 0) or off.

Roles: `face` is a `SubjectReferenceImage` of SUBJECT_TYPE_PERSON (Imagen's person
customisation); `composition` is refused at submit (422): Imagen's only layout control is
a control image (a sketch is sent as one), not a reference picture.

Seeds: Vertex accepts `seed` only without the SynthID watermark, so seeds are sent only
with IMAGEN_ADD_WATERMARK=false (otherwise the result's seed is null).
"""

from __future__ import annotations

import logging
from typing import Any

from app.config import Settings
from app.errors import ContentBlockedError, InvalidInputError, ProviderError
from app.generation.base import (
    Capabilities,
    GenerationSpec,
    Hooks,
    ImageProvider,
    ProviderOutput,
    Ref,
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
from app.generation.models import EditMode, GenerateRequest

log = logging.getLogger(__name__)

ASPECT_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
MAX_REFS = 4
# Clippy's edit modes → google-genai's EditMode, and the mask dilation Google's edit guide
# suggests for each (a share of the image width the mask grows by, to hide the seam).
EDIT_MODES: dict[EditMode, str] = {
    "inpaint-insert": "EDIT_MODE_INPAINT_INSERTION",
    "inpaint-remove": "EDIT_MODE_INPAINT_REMOVAL",
    "background-swap": "EDIT_MODE_BGSWAP",
    "outpaint": "EDIT_MODE_OUTPAINT",
}
MASK_DILATION: dict[EditMode, float] = {
    "inpaint-insert": 0.01,
    "inpaint-remove": 0.01,
    "background-swap": 0.0,
    "outpaint": 0.03,
}


def ordered_refs(refs: list[Ref]) -> list[Ref]:
    """Weight-0 refs dropped, the rest by weight, highest first (stable for ties)."""
    return sorted((r for r in refs if r.weight > 0), key=lambda r: -r.weight)


PHRASES = {
    "subject": (
        "featuring exactly the subject [{id}]",
        "featuring the subject [{id}]",
        "featuring something like the subject [{id}]",
    ),
    "face": (
        "featuring exactly the person [{id}]",
        "featuring the person [{id}]",
        "featuring someone like the person [{id}]",
    ),
    "style": ("strictly in the style of [{id}]", "in the style of [{id}]", "loosely in the style of [{id}]"),
}


def phrase(ref: Ref, ref_id: int) -> str:
    """Prompt emphasis by weight: ≥ 0.75 strong, < 0.4 loose, otherwise plain."""
    strong, plain, loose = PHRASES[ref.role]
    template = strong if ref.weight >= 0.75 else loose if ref.weight < 0.4 else plain
    return template.format(id=ref_id)


def reference_prompt(prompt: str, refs: list[Ref], sketch_id: int | None) -> str:
    """The prompt plus phrases naming each reference id by role and weight."""
    parts = [prompt.strip().rstrip(".")] if prompt.strip() else []
    parts += [phrase(ref, ref_id) for ref_id, ref in enumerate(refs, start=1)]
    if sketch_id is not None:
        parts.append(f"following the layout of the scribble [{sketch_id}]")
    return ", ".join(parts)


def edit_references(spec: GenerationSpec, first_id: int) -> list[Any]:
    """The base as a `RawReferenceImage` and, with a mask, the user's mask as a
    `MaskReferenceImage` (MASK_MODE_USER_PROVIDED; white = edit), ids from `first_id`."""
    from google.genai import types

    assert spec.base is not None
    references: list[Any] = [
        types.RawReferenceImage(
            reference_id=first_id,
            reference_image=types.Image(image_bytes=png_bytes(spec.base), mime_type="image/png"),
        )
    ]
    if spec.mask is not None:
        mode = spec.edit_mode or "inpaint-insert"
        references.append(
            types.MaskReferenceImage(
                reference_id=first_id + 1,
                reference_image=types.Image(image_bytes=png_bytes(spec.mask), mime_type="image/png"),
                config=types.MaskReferenceConfig(
                    mask_mode=types.MaskReferenceMode.MASK_MODE_USER_PROVIDED,
                    mask_dilation=MASK_DILATION[mode],
                ),
            )
        )
    return references


class ImagenProvider(ImageProvider):
    name = "imagen"

    def __init__(self, settings: Settings, client: Any = None) -> None:
        super().__init__()
        self.settings = settings
        self._client = client

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            max_refs=MAX_REFS,
            max_n=4,
            sketch=True,
            negative_prompt=True,
            ref_weights=False,
            aspect_ratios=ASPECT_RATIOS,
            max_seed=INT32_MAX,
            base_image=True,
            edit_modes=tuple(EDIT_MODES),
        )

    @property
    def model_name(self) -> str:
        return self.settings.IMAGEN_MODEL

    def check(self, request: GenerateRequest, *, size: bool = True) -> None:
        if any(r.role == "composition" for r in request.refs):
            raise InvalidInputError(
                "imagen: the `composition` role is not supported (Imagen takes subject, person and style "
                "references; its layout control is a sketch). Send the picture as `sketch`, use role `subject`, "
                "or pick provider `sdxl` or `gemini`.",
                field="refs",
            )
        super().check(request, size=size)

    def configured(self) -> str | None:
        return None if self._client is not None else missing_configuration(self.settings)

    def _load(self) -> None:
        if self._client is None:
            self._client = make_client(self.settings)

    def _generate(self, spec: GenerationSpec, hooks: Hooks) -> ProviderOutput:
        from google.genai import types

        s = self.settings
        refs = ordered_refs(spec.refs)
        use_sketch = spec.sketch is not None and spec.sketch_weight > 0
        ratio = aspect_ratio(spec.width, spec.height, ASPECT_RATIOS)
        seed = None if s.IMAGEN_ADD_WATERMARK else spec.seed
        common: dict[str, Any] = {
            "number_of_images": spec.n,
            "aspect_ratio": ratio,
            "negative_prompt": spec.negative_prompt or None,
            "guidance_scale": spec.guidance,
            "seed": seed,
            "add_watermark": s.IMAGEN_ADD_WATERMARK,
            "include_rai_reason": True,
            "output_mime_type": "image/png",
        }
        hooks.report(0, spec.n)
        try:
            if spec.base is not None:
                model = s.IMAGEN_EDIT_MODEL
                references: list[Any] = [self._reference(i, ref) for i, ref in enumerate(refs, 1)]
                references += edit_references(spec, len(references) + 1)
                mode = EDIT_MODES[spec.edit_mode] if spec.mask is not None and spec.edit_mode else "EDIT_MODE_DEFAULT"
                # The result takes the base's size: no aspect ratio with a raw reference.
                config = {k: v for k, v in common.items() if k != "aspect_ratio"}
                response = self._client.models.edit_image(
                    model=model,
                    prompt=reference_prompt(spec.prompt, refs, None),
                    reference_images=references,
                    config=types.EditImageConfig(edit_mode=getattr(types.EditMode, mode), **config),
                )
            elif not refs and not use_sketch:
                model = s.IMAGEN_MODEL
                response = self._client.models.generate_images(
                    model=model,
                    prompt=spec.prompt,
                    config=types.GenerateImagesConfig(**common),
                )
            else:
                model = s.IMAGEN_EDIT_MODEL
                references = [self._reference(i, ref) for i, ref in enumerate(refs, 1)]
                sketch_id = None
                if use_sketch:
                    assert spec.sketch is not None
                    sketch_id = len(references) + 1
                    references.append(
                        types.ControlReferenceImage(
                            reference_id=sketch_id,
                            reference_image=types.Image(
                                image_bytes=png_bytes(spec.sketch),
                                mime_type="image/png",
                            ),
                            config=types.ControlReferenceConfig(
                                control_type=types.ControlReferenceType.CONTROL_TYPE_SCRIBBLE,
                                enable_control_image_computation=False,
                            ),
                        )
                    )
                response = self._client.models.edit_image(
                    model=model,
                    prompt=reference_prompt(spec.prompt, refs, sketch_id),
                    reference_images=references,
                    config=types.EditImageConfig(edit_mode=types.EditMode.EDIT_MODE_DEFAULT, **common),
                )
        except Exception as e:
            raise map_google_error(e, self.name, self.model_name) from e
        hooks.check_cancelled()
        images, reasons = [], []
        for generated in response.generated_images or []:
            if generated.image is not None and generated.image.image_bytes:
                images.append(decode_png(generated.image.image_bytes))
            elif generated.rai_filtered_reason:
                reasons.append(generated.rai_filtered_reason)
        if not images:
            if reasons:
                raise ContentBlockedError(
                    f"Imagen's safety filter blocked every image: {'; '.join(reasons)}",
                    provider=self.name,
                )
            raise ProviderError(f"Imagen ({model}) returned no image.", provider=self.name)
        hooks.report(spec.n, spec.n)
        notes = [f"{len(reasons)} image(s) removed by the safety filter: {r}" for r in reasons[:1]]
        if spec.base is not None and spec.mask is None and spec.strength is not None:
            notes.append("strength not honoured: Imagen edits without a mask take no strength")
        dropped = len(spec.refs) - len(refs)
        if dropped:
            notes.append(f"{dropped} reference(s) with weight 0 dropped (Imagen takes no weights)")
        return ProviderOutput(images=images, model=model, seeds=[seed] * len(images), notes=notes)

    def _reference(self, ref_id: int, ref: Ref) -> Any:
        from google.genai import types

        image = types.Image(image_bytes=png_bytes(ref.image), mime_type="image/png")
        if ref.role in ("subject", "face"):
            person = ref.role == "face"
            return types.SubjectReferenceImage(
                reference_id=ref_id,
                reference_image=image,
                config=types.SubjectReferenceConfig(
                    subject_type=types.SubjectReferenceType.SUBJECT_TYPE_PERSON
                    if person
                    else types.SubjectReferenceType.SUBJECT_TYPE_DEFAULT,
                    subject_description=f"the {'person' if person else 'subject'} of reference image {ref_id}",
                ),
            )
        if ref.role != "style":  # check() refuses the rest at submit; a job from elsewhere stops here
            raise InvalidInputError(f"imagen: the `{ref.role}` role is not supported.", field="refs")
        return types.StyleReferenceImage(
            reference_id=ref_id,
            reference_image=image,
            config=types.StyleReferenceConfig(style_description=f"the style of reference image {ref_id}"),
        )
