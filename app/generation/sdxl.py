"""SDXL + IP-Adapter through diffusers.

- Text-to-image, or img2img from the sketch when `sketchWeight > 0`
  (strength = 1 - sketchWeight; steps are raised so at least one denoising step runs).
- Edits: a `baseImage` without a mask is img2img from it at `strength` (default 0.3); with a
  mask, diffusers' SDXL inpaint pipeline (`from_pipe`: the same modules, no second copy)
  repaints the white area at `strength` (default 0.99), and the original is pasted back
  outside the mask with an inward-feathered edge (app/generation/mask.py). `inpaint-remove`
  fills with the surroundings and puts the prompt in the negative prompt (REMOVE_PROMPT);
  `background-swap` and `outpaint` are refused at submit.
  With SDXL_CONTROLNET_MODEL (a scribble ControlNet) the sketch is inverted to white lines
  on black and steers a ControlNet instead (conditioning scale = sketchWeight).
- References go in as IP-Adapter images. IP_ADAPTER_WEIGHT_NAME is loaded once and serves
  `style`, `subject` and `composition` refs; with IP_ADAPTER_FACE_WEIGHT_NAME a second adapter
  (e.g. ip-adapter-plus-face_sdxl_vit-h) serves `face` refs, each cropped to the face first
  (`face_crop`: a centred square, as no face detector ships offline). Each role has block-wise
  scales (InstantStyle): IP_ADAPTER_STYLE_BLOCKS (the style block only), _SUBJECT_BLOCKS (layout
  + style blocks), _COMPOSITION_BLOCKS (the layout block only), _FACE_BLOCKS (every block).
  Each reference gets its own scale at every attention layer, `weight × its role's block
  scale`, through diffusers' per-image IP-Adapter path (one all-ones mask per image), so two
  style refs with weights 0.8 and 0.3 really differ, and scales are per adapter.
- Weights load once (first job, or at start-up with GENERATION_PRELOAD) and stay warm;
  CUDA uses fp16; attention slicing, VAE tiling and CPU offload are settings.
- One generation at a time per process (the adapter scales live on the shared UNet).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageOps

from app.config import Settings
from app.embedding.availability import hub_load_kwargs
from app.errors import InvalidInputError, WeightsUnavailableError
from app.extras import require
from app.generation.base import (
    Capabilities,
    GenerationSpec,
    Hooks,
    ImageProvider,
    ProviderOutput,
    Ref,
)
from app.generation.mask import paste_back
from app.generation.models import DEFAULT_IMG2IMG_STRENGTH, DEFAULT_INPAINT_STRENGTH, GenerateRequest, Role

log = logging.getLogger(__name__)

# Which loaded adapter serves a role: 0 = IP_ADAPTER_WEIGHT_NAME, 1 = the face weights.
BASE_ROLES: tuple[Role, ...] = ("style", "subject", "composition")
MIN_STRENGTH = 0.05


def img2img_plan(steps: int, sketch_weight: float) -> tuple[float, int, int]:
    """(strength, steps to ask for, denoising steps that will run) for a sketch weight."""
    if not 0.0 < sketch_weight <= 1.0:
        raise ValueError(f"`sketch_weight` must be in (0, 1] but is {sketch_weight}.")
    return strength_plan(steps, 1.0 - sketch_weight)


def strength_plan(steps: int, strength: float) -> tuple[float, int, int]:
    """(strength, steps to ask for, denoising steps that will run): diffusers runs
    `int(steps × strength)` steps, so steps are raised until at least one runs."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"`strength` must be in [0, 1] but is {strength}.")
    strength = max(MIN_STRENGTH, strength)
    asked = max(steps, math.ceil(1.0 / strength))
    while int(asked * strength) < 1:
        asked += 1
    return strength, asked, min(int(asked * strength), asked)


def scribble(sketch: Image.Image, width: int, height: int) -> Image.Image:
    """A sketch (dark lines on white) as scribble ControlNets want it: white lines on black."""
    return ImageOps.invert(sketch.convert("L")).convert("RGB").resize((width, height))


def per_ref_scales(role_scales: dict[str, float], refs_by_adapter: list[list[Ref]]) -> list[float | list[float]]:
    """One processor's scales: per adapter, `weight × the role's block scale here` per image
    (0.0 for an adapter with nothing to add here, which diffusers skips)."""
    scales: list[float | list[float]] = []
    for refs in refs_by_adapter:
        per_image = [role_scales.get(ref.role, 0.0) * ref.weight for ref in refs]
        scales.append(per_image if any(per_image) else 0.0)
    return scales


def face_crop(image: Image.Image, share: float) -> Image.Image:
    """A square of `share` × the shorter side, centred horizontally, its centre at 40 % of the
    height (portraits put the face above the middle): the face IP-Adapters were trained on
    face crops, and no face detector installs offline (opencv-headless has no cascades)."""
    w, h = image.size
    side = max(1, round(min(w, h) * share))
    left = (w - side) // 2
    top = min(max(0, round(h * 0.4 - side / 2)), h - side)
    return image.crop((left, top, left + side, top + side))


# SDXL has no removal mode: `inpaint-remove` repaints the masked area towards its surroundings,
# with what the prompt names (what to remove) moved to the negative prompt.
REMOVE_PROMPT = "empty background, seamless continuation of the surroundings"


def remove_prompts(prompt: str, negative_prompt: str | None) -> dict[str, str]:
    """The prompts of an `inpaint-remove` edit: fill with surroundings, steer away from `prompt`."""
    negative = ", ".join(p.strip() for p in (prompt, negative_prompt or "") if p.strip())
    return {"prompt": REMOVE_PROMPT, "negative_prompt": negative}


class SdxlProvider(ImageProvider):
    name = "sdxl"

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(idle_unload_s=settings.MODEL_IDLE_UNLOAD_S, clock=clock)
        self.settings = settings
        self._run_lock = threading.Lock()
        self._pipe: Any = None
        self._img2img: Any = None
        self._inpaint: Any = None
        self._controlnet: Any = None
        # Per IP-Adapter processor: each role's block scale there.
        self._role_scales: dict[str, dict[str, float]] = {}
        self._device = "cpu"

    @property
    def capabilities(self) -> Capabilities:
        refs = self.settings.GENERATION_MAX_REFS if self.settings.IP_ADAPTER_MODEL else 0
        return Capabilities(
            max_refs=refs,
            max_n=self.settings.GENERATION_MAX_N,
            sketch=True,
            negative_prompt=True,
            ref_weights=True,
            size_multiple=8,
            max_side=self.settings.SDXL_MAX_SIDE,
            base_image=True,
            edit_modes=("inpaint-insert", "inpaint-remove"),
        )

    @property
    def model_name(self) -> str:
        return self.settings.SDXL_MODEL

    def check(self, request: GenerateRequest, *, size: bool = True) -> None:
        if request.refs and not self.settings.IP_ADAPTER_MODEL:
            raise InvalidInputError(
                "`refs` need an IP-Adapter, and IP_ADAPTER_MODEL is not set on this server.",
                field="refs",
            )
        if any(r.role == "face" for r in request.refs) and not self.settings.IP_ADAPTER_FACE_WEIGHT_NAME:
            raise InvalidInputError(
                "sdxl: `face` refs need a face IP-Adapter, and IP_ADAPTER_FACE_WEIGHT_NAME is not set on this "
                "server (e.g. ip-adapter-plus-face_sdxl_vit-h.safetensors); use `subject` instead.",
                field="refs",
            )
        super().check(request, size=size)

    # --- loading -------------------------------------------------------------------------

    def _load(self) -> None:
        import torch

        require("diffusers")  # the `sdxl` extra: one line naming it when it is missing
        from diffusers import (
            ControlNetModel,
            StableDiffusionXLControlNetPipeline,
            StableDiffusionXLImg2ImgPipeline,
            StableDiffusionXLInpaintPipeline,
            StableDiffusionXLPipeline,
        )

        from app.embedding.device import resolve_device

        s = self.settings
        device = resolve_device(s.DEVICE)
        dtype = torch.float16 if device.type == "cuda" else torch.float32
        kwargs: dict[str, Any] = {"torch_dtype": dtype}
        if s.SDXL_VARIANT:
            kwargs["variant"] = s.SDXL_VARIANT
        named = {
            "SDXL_MODEL": s.SDXL_MODEL,
            "IP_ADAPTER_MODEL": s.IP_ADAPTER_MODEL,
            "SDXL_CONTROLNET_MODEL": s.SDXL_CONTROLNET_MODEL,
        }
        kwargs |= hub_load_kwargs({k: m for k, m in named.items() if m}, s.MODEL_CACHE_DIR)
        try:
            pipe = StableDiffusionXLPipeline.from_pretrained(s.SDXL_MODEL, **kwargs)  # type: ignore[no-untyped-call]
            if s.IP_ADAPTER_MODEL:
                adapters = [(s.IP_ADAPTER_SUBFOLDER, s.IP_ADAPTER_WEIGHT_NAME)]
                if s.IP_ADAPTER_FACE_WEIGHT_NAME:
                    adapters.append((s.IP_ADAPTER_FACE_SUBFOLDER, s.IP_ADAPTER_FACE_WEIGHT_NAME))
                pipe.load_ip_adapter(
                    [s.IP_ADAPTER_MODEL] * len(adapters),
                    subfolder=[sub for sub, _ in adapters],
                    weight_name=[name for _, name in adapters],
                    image_encoder_folder=s.IP_ADAPTER_IMAGE_ENCODER_FOLDER,
                    **{k: v for k, v in kwargs.items() if k in ("cache_dir", "local_files_only")},
                )
            controlnet = (
                ControlNetModel.from_pretrained(  # type: ignore[no-untyped-call]
                    s.SDXL_CONTROLNET_MODEL, **{k: v for k, v in kwargs.items() if k != "variant"}
                )
                if s.SDXL_CONTROLNET_MODEL
                else None
            )
        except (OSError, ValueError) as e:
            raise WeightsUnavailableError(
                f"Could not load SDXL_MODEL={s.SDXL_MODEL!r} / IP_ADAPTER_MODEL={s.IP_ADAPTER_MODEL!r}: run "
                "`clippy models pull sdxl ip_adapter` or point them at local folders.",
                model=s.SDXL_MODEL,
            ).because(e) from e
        if s.IP_ADAPTER_MODEL:
            self._role_scales = self._block_scales(pipe)
        if s.SDXL_ATTENTION_SLICING:
            pipe.enable_attention_slicing()
        if s.SDXL_VAE_TILING:
            pipe.vae.enable_tiling()
        pipelines = [pipe]
        if controlnet is not None:
            self._controlnet = StableDiffusionXLControlNetPipeline.from_pipe(pipe, controlnet=controlnet)
            pipelines.append(self._controlnet)
        for p in pipelines:
            match s.SDXL_CPU_OFFLOAD:
                case "model":
                    p.enable_model_cpu_offload()
                case "sequential":
                    p.enable_sequential_cpu_offload()
                case "none":
                    p.to(device)
                case _:
                    raise ValueError(f"Unknown SDXL_CPU_OFFLOAD: {s.SDXL_CPU_OFFLOAD!r}")
            p.set_progress_bar_config(disable=True)
        self._device = device.type
        self._pipe = pipe
        # Both share every module of `pipe` (from_pipe): no second UNet, VAE or text encoder.
        self._img2img = StableDiffusionXLImg2ImgPipeline.from_pipe(pipe)
        self._img2img.set_progress_bar_config(disable=True)
        self._inpaint = StableDiffusionXLInpaintPipeline.from_pipe(pipe)
        self._inpaint.set_progress_bar_config(disable=True)
        log.info("SDXL %s loaded on %s (%s)", s.SDXL_MODEL, device, dtype)

    def _block_scales(self, pipe: Any) -> dict[str, dict[str, float]]:
        """Let diffusers expand each role's block dict, then read the processors' scales back."""
        from diffusers.models.attention_processor import (
            IPAdapterAttnProcessor,
            IPAdapterAttnProcessor2_0,
        )

        s = self.settings
        blocks: dict[str, float | dict[str, Any]] = {
            "style": s.IP_ADAPTER_STYLE_BLOCKS,
            "subject": s.IP_ADAPTER_SUBJECT_BLOCKS,
            "composition": s.IP_ADAPTER_COMPOSITION_BLOCKS,
        }
        if s.IP_ADAPTER_FACE_WEIGHT_NAME:
            blocks["face"] = s.IP_ADAPTER_FACE_BLOCKS
        adapters = 2 if s.IP_ADAPTER_FACE_WEIGHT_NAME else 1
        out: dict[str, dict[str, float]] = {}
        for role, value in blocks.items():
            pipe.set_ip_adapter_scale([value] * adapters)
            for name, proc in pipe.unet.attn_processors.items():
                if isinstance(proc, IPAdapterAttnProcessor | IPAdapterAttnProcessor2_0):
                    out.setdefault(name, {})[role] = float(proc.scale[0])
        return out

    def _unload(self) -> None:
        self._pipe = None
        self._img2img = None
        self._inpaint = None
        self._controlnet = None
        self._role_scales = {}

    # --- generating ----------------------------------------------------------------------

    def _apply_scales(self, refs_by_adapter: list[list[Ref]]) -> None:
        processors = self._pipe.unet.attn_processors
        for name, role_scales in self._role_scales.items():
            processors[name].scale = per_ref_scales(role_scales, refs_by_adapter)

    def _generate(self, spec: GenerationSpec, hooks: Hooks) -> ProviderOutput:
        import torch

        s = self.settings
        steps = spec.steps or s.SDXL_DEFAULT_STEPS
        guidance = s.SDXL_DEFAULT_GUIDANCE if spec.guidance is None else spec.guidance
        kwargs: dict[str, Any] = {
            "prompt": spec.prompt,
            "negative_prompt": spec.negative_prompt,
            "width": spec.width,
            "height": spec.height,
            "guidance_scale": guidance,
            "num_images_per_prompt": spec.n,
            "generator": [torch.Generator("cpu").manual_seed(spec.seed + i) for i in range(spec.n)],
        }
        notes: list[str] = []
        use_sketch = spec.sketch is not None and spec.sketch_weight > 0 and spec.base is None
        use_controlnet = use_sketch and self._controlnet is not None
        if spec.base is not None:
            base = spec.base.convert("RGB").resize((spec.width, spec.height), Image.Resampling.LANCZOS)
            default = DEFAULT_INPAINT_STRENGTH if spec.mask is not None else DEFAULT_IMG2IMG_STRENGTH
            strength, asked, total = strength_plan(steps, default if spec.strength is None else spec.strength)
            if asked != steps:
                notes.append(f"steps raised from {steps} to {asked} so strength {strength:.2f} runs")
            kwargs.update(image=base, strength=strength, num_inference_steps=asked)
            if spec.mask is not None:
                kwargs["mask_image"] = spec.mask.convert("L").resize(
                    (spec.width, spec.height), Image.Resampling.NEAREST
                )
                if spec.edit_mode == "inpaint-remove":
                    kwargs.update(remove_prompts(spec.prompt, spec.negative_prompt))
        elif use_controlnet:
            assert spec.sketch is not None
            total = steps
            kwargs.update(
                image=scribble(spec.sketch, spec.width, spec.height),
                controlnet_conditioning_scale=spec.sketch_weight,
                num_inference_steps=steps,
            )
        elif use_sketch:
            assert spec.sketch is not None
            strength, asked, total = img2img_plan(steps, spec.sketch_weight)
            if asked != steps:
                notes.append(f"steps raised from {steps} to {asked} so strength {strength:.2f} runs")
            kwargs.update(
                image=spec.sketch.convert("RGB").resize((spec.width, spec.height)),
                strength=strength,
                num_inference_steps=asked,
            )
        else:
            total = steps
            kwargs["num_inference_steps"] = steps
        if spec.sketch is not None and not use_sketch:
            notes.append("sketch ignored: sketchWeight is 0")

        def on_step(pipe: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            hooks.check_cancelled()
            hooks.report(i + 1, total)
            return tensors

        kwargs["callback_on_step_end"] = on_step
        with self._run_lock:
            if self._role_scales:
                kwargs.update(self._ip_adapter_inputs(spec))
            if spec.mask is not None:
                pipe = self._inpaint
            elif use_controlnet:
                pipe = self._controlnet
            elif spec.base is not None or use_sketch:
                pipe = self._img2img
            else:
                pipe = self._pipe
            hooks.report(0, total)
            out = pipe(**kwargs)
        images: list[Image.Image] = list(out.images)
        if spec.mask is not None:
            # The pipeline repaints through the VAE everywhere: put the original back outside
            # the mask (feathered inward), so unmasked pixels are exactly the base's.
            images = [paste_back(kwargs["image"], image, kwargs["mask_image"]) for image in images]
        return ProviderOutput(
            images=images,
            model=s.SDXL_MODEL,
            seeds=[spec.seed + i for i in range(spec.n)],
            notes=notes,
        )

    def _ip_adapter_inputs(self, spec: GenerationSpec) -> dict[str, Any]:
        """IP-Adapter images, masks and scales for this request (under `_run_lock`)."""
        import torch

        refs_by_adapter = [[r for r in spec.refs if r.role in BASE_ROLES]]
        if self.settings.IP_ADAPTER_FACE_WEIGHT_NAME:
            refs_by_adapter.append([r for r in spec.refs if r.role == "face"])
        self._apply_scales(refs_by_adapter)
        blank = Image.new("RGB", (64, 64), (255, 255, 255))
        crop = self.settings.IP_ADAPTER_FACE_CROP
        images = [
            [face_crop(r.image, crop) if r.role == "face" else r.image for r in refs] or [blank]
            for refs in refs_by_adapter
        ]
        inputs: dict[str, Any] = {"ip_adapter_image": images}
        if spec.refs:
            # One all-ones mask per image selects diffusers' per-image path, where each
            # image attends separately and gets its own scale.
            h, w = max(1, spec.height // 8), max(1, spec.width // 8)
            inputs["cross_attention_kwargs"] = {"ip_adapter_masks": [torch.ones(1, len(imgs), h, w) for imgs in images]}
        return inputs
