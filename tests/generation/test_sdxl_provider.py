"""The SDXL + IP-Adapter provider on a real tiny diffusers pipeline (64×64, 2 steps)."""

from __future__ import annotations

import asyncio
import gc
import io
import threading
import weakref
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from app.generation.base import GenerationSpec, Hooks, Ref
from app.generation.sdxl import SdxlProvider, face_crop, img2img_plan, per_ref_scales
from app.jobs.base import JobCancelled
from tests.support.generation import make_settings, png
from tests.support.tiny_sdxl import IP_ADAPTER_FACE_WEIGHT_NAME, TinySdxl

pytestmark = pytest.mark.anyio

STYLE_BLOCK = "up_blocks.0.attentions.1.transformer_blocks.0.attn2.processor"
LAYOUT_BLOCK = "down_blocks.2.attentions.1.transformer_blocks.0.attn2.processor"
OTHER_BLOCK = "down_blocks.1.attentions.0.transformer_blocks.0.attn2.processor"


def image(color: tuple[int, int, int]) -> Image.Image:
    return Image.open(io.BytesIO(png(color))).convert("RGB")


def spec(**overrides: Any) -> GenerationSpec:
    values: dict[str, Any] = {
        "prompt": "a red fox",
        "negative_prompt": None,
        "refs": [],
        "sketch": None,
        "sketch_weight": 0.0,
        "seed": 42,
        "width": 64,
        "height": 64,
        "n": 1,
        "steps": 2,
        "guidance": 5.0,
        **overrides,
    }
    return GenerationSpec(**values)


class Spy:
    """Wraps a diffusers pipeline: records each call's kwargs and the IP-Adapter scales."""

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.calls: list[dict[str, Any]] = []
        self.scales: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipe, name)

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        processors = self.pipe.unet.attn_processors
        self.scales.append({name: processors[name].scale for name in (STYLE_BLOCK, LAYOUT_BLOCK, OTHER_BLOCK)})
        return self.pipe(**kwargs)


@pytest.fixture
def spies(sdxl: SdxlProvider, monkeypatch: pytest.MonkeyPatch) -> tuple[Spy, Spy]:
    text, img2img = Spy(sdxl._pipe), Spy(sdxl._img2img)
    monkeypatch.setattr(sdxl, "_pipe", text)
    monkeypatch.setattr(sdxl, "_img2img", img2img)
    return text, img2img


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32)


async def test_refs_reach_the_pipeline_with_per_ref_scales_and_role_blocks(
    sdxl: SdxlProvider, spies: tuple[Spy, Spy]
) -> None:
    text, _ = spies
    style_a, style_b, subject = image((200, 0, 0)), image((0, 0, 200)), image((0, 200, 0))
    refs = [
        Ref("style", 0.8, style_a),
        Ref("subject", 0.6, subject),
        Ref("style", 0.3, style_b),
    ]
    await sdxl.generate(spec(refs=refs))

    (call,) = text.calls
    # One adapter serves style and subject: every image has its own scale at every layer.
    assert call["ip_adapter_image"] == [[style_a, subject, style_b]]
    masks = call["cross_attention_kwargs"]["ip_adapter_masks"]
    assert [tuple(m.shape[:2]) for m in masks] == [(1, 3)]
    scales = text.scales[0]
    # style: style block only; subject: layout + style blocks (InstantStyle).
    assert scales[STYLE_BLOCK] == [pytest.approx([0.8, 0.6, 0.3])]
    assert scales[LAYOUT_BLOCK] == [pytest.approx([0.0, 0.6, 0.0])]
    assert scales[OTHER_BLOCK] == [0.0]


async def test_a_composition_ref_scales_the_layout_block_only(sdxl: SdxlProvider, spies: tuple[Spy, Spy]) -> None:
    text, _ = spies
    style, layout = image((200, 0, 0)), image((0, 0, 200))
    await sdxl.generate(spec(refs=[Ref("style", 0.5, style), Ref("composition", 0.7, layout)]))
    (call,) = text.calls
    assert call["ip_adapter_image"] == [[style, layout]]
    scales = text.scales[0]
    assert scales[STYLE_BLOCK] == [pytest.approx([0.5, 0.0])]
    assert scales[LAYOUT_BLOCK] == [pytest.approx([0.0, 0.7])]
    assert scales[OTHER_BLOCK] == [0.0]


async def test_a_face_ref_without_face_weights_is_refused_naming_the_setting(sdxl: SdxlProvider) -> None:
    from app.errors import InvalidInputError
    from app.generation.models import GenerateRequest

    request = GenerateRequest.model_validate({"prompt": "x", "refs": [{"role": "face", "id": "1"}]})
    with pytest.raises(InvalidInputError, match="IP_ADAPTER_FACE_WEIGHT_NAME"):
        sdxl.check(request)


@pytest.fixture(scope="module")
def sdxl_face(tiny_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> SdxlProvider:
    settings = make_settings(
        tiny_env, tmp_path_factory.mktemp("gen"), IP_ADAPTER_FACE_WEIGHT_NAME=IP_ADAPTER_FACE_WEIGHT_NAME
    )
    provider = SdxlProvider(settings)
    provider.load()
    return provider


async def test_face_refs_go_to_the_face_adapter_cropped_with_scales_per_adapter(
    sdxl_face: SdxlProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(sdxl_face._pipe)
    monkeypatch.setattr(sdxl_face, "_pipe", spy)
    portrait = Image.new("RGB", (100, 200), (0, 200, 0))
    subject, style = image((200, 0, 0)), image((0, 0, 200))
    refs = [Ref("face", 0.9, portrait), Ref("subject", 0.4, subject), Ref("style", 0.2, style)]
    out = await sdxl_face.generate(spec(refs=refs))

    (call,) = spy.calls
    base_images, face_images = call["ip_adapter_image"]
    assert base_images == [subject, style]
    (crop,) = face_images
    assert crop.size == (70, 70)  # IP_ADAPTER_FACE_CROP 0.7 of the shorter side, a square
    masks = call["cross_attention_kwargs"]["ip_adapter_masks"]
    assert [tuple(m.shape[:2]) for m in masks] == [(1, 2), (1, 1)]
    scales = spy.scales[0]
    # Per adapter: [base adapter's images], [face adapter's images] (face: every block).
    assert scales[STYLE_BLOCK] == [pytest.approx([0.4, 0.2]), pytest.approx([0.9])]
    assert scales[LAYOUT_BLOCK] == [pytest.approx([0.4, 0.0]), pytest.approx([0.9])]
    assert scales[OTHER_BLOCK] == [0.0, pytest.approx([0.9])]
    alone = await sdxl_face.generate(spec(refs=[Ref("subject", 0.4, subject)]))
    assert spy.scales[1][OTHER_BLOCK] == [0.0, 0.0]  # the face adapter is silent without face refs
    assert np.abs(pixels(out.images[0]) - pixels(alone.images[0])).max() > 0


def test_face_crop_is_a_centred_square_above_the_middle() -> None:
    portrait = Image.new("RGB", (100, 200))
    assert face_crop(portrait, 0.5).size == (50, 50)
    box = Image.new("L", (100, 200))
    box.paste(255, (25, 55, 75, 105))  # the square face_crop(…, 0.5) takes: centre at 40 % height
    assert np.asarray(face_crop(box, 0.5)).min() == 255
    assert face_crop(Image.new("RGB", (300, 100)), 1.0).size == (100, 100)


async def test_a_ref_weight_changes_the_picture(sdxl: SdxlProvider) -> None:
    ref = image((200, 0, 0))
    strong = await sdxl.generate(spec(refs=[Ref("style", 1.0, ref)]))
    weak = await sdxl.generate(spec(refs=[Ref("style", 0.1, ref)]))
    again = await sdxl.generate(spec(refs=[Ref("style", 1.0, ref)]))
    assert np.abs(pixels(strong.images[0]) - pixels(weak.images[0])).max() > 0
    assert np.array_equal(pixels(strong.images[0]), pixels(again.images[0]))  # seeded


async def test_no_refs_runs_text_to_image_with_the_adapter_silent(sdxl: SdxlProvider, spies: tuple[Spy, Spy]) -> None:
    text, img2img = spies
    out = await sdxl.generate(spec(n=2))
    assert len(out.images) == 2 and out.images[0].size == (64, 64)
    assert out.seeds == [42, 43] and out.model == sdxl.settings.SDXL_MODEL
    assert "cross_attention_kwargs" not in text.calls[0] and not img2img.calls
    assert text.scales[0][STYLE_BLOCK] == [0.0]


async def test_a_sketch_drives_img2img_with_strength_from_its_weight(
    sdxl: SdxlProvider, spies: tuple[Spy, Spy]
) -> None:
    text, img2img = spies
    sketch = Image.new("RGB", (32, 32), "white")
    steps: list[tuple[int, int]] = []
    out = await sdxl.generate(
        spec(sketch=sketch, sketch_weight=0.75, steps=2),
        Hooks(report=lambda s, t: steps.append((s, t))),
    )
    (call,) = img2img.calls
    assert not text.calls
    assert call["strength"] == pytest.approx(0.25)
    assert call["image"].size == (64, 64)
    assert call["num_inference_steps"] == 4  # raised so one denoising step runs
    assert steps[-1] == (1, 1)
    assert out.notes and "raised" in out.notes[0]


async def test_a_zero_sketch_weight_ignores_the_sketch(sdxl: SdxlProvider, spies: tuple[Spy, Spy]) -> None:
    text, img2img = spies
    out = await sdxl.generate(spec(sketch=Image.new("RGB", (64, 64)), sketch_weight=0.0))
    assert text.calls and not img2img.calls
    assert "sketch ignored" in out.notes[0]


async def test_progress_is_reported_for_every_step(sdxl: SdxlProvider) -> None:
    steps: list[tuple[int, int]] = []
    await sdxl.generate(spec(steps=3), Hooks(report=lambda s, t: steps.append((s, t))))
    assert steps == [(0, 3), (1, 3), (2, 3), (3, 3)]


async def test_cancellation_stops_between_steps(sdxl: SdxlProvider) -> None:
    calls = 0

    def check() -> None:
        nonlocal calls
        calls += 1
        if calls > 2:
            raise JobCancelled("job")

    with pytest.raises(JobCancelled):
        await sdxl.generate(spec(steps=5), Hooks(check_cancelled=check))


def test_img2img_plan_runs_at_least_one_step() -> None:
    assert img2img_plan(30, 0.5) == (0.5, 30, 15)
    strength, asked, runs = img2img_plan(2, 1.0)
    assert strength == pytest.approx(0.05) and runs >= 1 and int(asked * strength) == runs
    with pytest.raises(ValueError, match="sketch_weight"):
        img2img_plan(2, 0.0)


def test_per_ref_scales_multiply_weights_by_block_scale() -> None:
    dot = Image.new("RGB", (1, 1))
    refs = [Ref("style", 0.5, dot), Ref("composition", 0.25, dot)]
    here = {"style": 1.0, "subject": 1.0, "composition": 0.0}
    assert per_ref_scales(here, [refs, []]) == [[0.5, 0.0], 0.0]
    assert per_ref_scales({"style": 0.0, "composition": 1.0}, [refs]) == [[0.0, 0.25]]
    assert per_ref_scales({"style": 0.0, "composition": 0.0}, [refs]) == [0.0]


@pytest.fixture(scope="module")
def sdxl_controlnet(
    tiny_sdxl: TinySdxl, tiny_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> SdxlProvider:
    settings = make_settings(
        tiny_env, tmp_path_factory.mktemp("gen"), SDXL_CONTROLNET_MODEL=str(tiny_sdxl.controlnet_dir)
    )
    provider = SdxlProvider(settings)
    provider.load()
    return provider


async def test_with_a_scribble_controlnet_the_sketch_steers_it_by_its_weight(
    sdxl_controlnet: SdxlProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(sdxl_controlnet._controlnet)
    monkeypatch.setattr(sdxl_controlnet, "_controlnet", spy)
    sketch = Image.new("RGB", (32, 32), "white")
    ImageDraw.Draw(sketch).line((0, 16, 31, 16), fill="black", width=3)
    refs = [Ref("style", 0.5, image((200, 0, 0)))]
    strong = await sdxl_controlnet.generate(spec(sketch=sketch, sketch_weight=0.9, refs=refs))
    weak = await sdxl_controlnet.generate(spec(sketch=sketch, sketch_weight=0.2, refs=refs))

    first = spy.calls[0]
    assert first["controlnet_conditioning_scale"] == pytest.approx(0.9)
    assert first["num_inference_steps"] == 2 and "strength" not in first
    scribble = np.asarray(first["image"].convert("L"))
    assert first["image"].size == (64, 64)
    assert scribble[0, 0] == 0 and scribble[32, 32] == 255  # white lines on black
    assert first["ip_adapter_image"][0] == [refs[0].image]
    assert np.abs(pixels(strong.images[0]) - pixels(weak.images[0])).max() > 0


async def test_an_idle_pipeline_is_freed_and_the_next_generation_loads_it_again(
    tiny_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """MODEL_IDLE_UNLOAD_S frees SDXL's weights like the story model's, never while generating."""
    clock = [0.0]
    settings = make_settings(tiny_env, tmp_path_factory.mktemp("gen"), MODEL_IDLE_UNLOAD_S=60.0)
    provider = SdxlProvider(settings, clock=lambda: clock[0])
    first = await provider.generate(spec())
    pipe = weakref.ref(provider._pipe)
    clock[0] = 59.0
    assert not provider.unload_if_idle() and pipe() is not None, "used 59 s ago: kept"
    clock[0] = 61.0
    assert provider.unload_if_idle()
    gc.collect()
    assert pipe() is None and provider._pipe is None, "the pipeline is collected"
    again = await provider.generate(spec())  # loads again
    assert np.array_equal(pixels(first.images[0]), pixels(again.images[0])), "the same weights, the same seed"

    # A generation in progress is never unloaded under it, however long it runs.
    started, finish = threading.Event(), threading.Event()
    real = provider._generate

    def slow(s: GenerationSpec, hooks: Hooks) -> Any:
        started.set()
        finish.wait(30)
        return real(s, hooks)

    provider._generate = slow  # type: ignore[method-assign]
    running = asyncio.ensure_future(provider.generate(spec()))
    await asyncio.to_thread(started.wait, 30)
    clock[0] = 1000.0
    assert not provider.unload_if_idle(), "in use"
    finish.set()
    await running
    provider.close()
    assert provider._pipe is None
