"""Story providers: a tiny random LLaVA through the real transformers path, Gemini captured at
the client boundary, the parser, and unloading after idle."""

from __future__ import annotations

import gc
import io
import time
import weakref
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from app.config import Settings
from app.errors import WeightsUnavailableError
from app.stories.base import INSTRUCTION, instruction
from app.stories.factory import build_story_provider
from app.stories.gemini import GeminiStoryProvider
from app.stories.parse import parse_story
from app.stories.vlm import CPU_DEFAULT, TransformersStoryProvider, default_story_model
from tests.support.settings import tiny_settings
from tests.support.tiny_vlm import IMAGE_TOKEN, IMAGE_TOKENS

torch.set_num_threads(1)


@pytest.fixture
def story_settings(tmp_path: Path, tiny_vlm: Path) -> Settings:
    return tiny_settings(tmp_path, STORY_MODEL=str(tiny_vlm), STORY_MAX_TOKENS=8, MODEL_IDLE_UNLOAD_S=0)


def test_the_chat_template_puts_the_image_before_the_instruction(story_settings: Settings) -> None:
    provider = build_story_provider(story_settings)
    assert isinstance(provider, TransformersStoryProvider)
    provider.load()
    text = provider.prompt_text(instruction("for children"))
    assert text.startswith(f"USER: {IMAGE_TOKEN}\n{INSTRUCTION}")
    assert text.endswith("Direction from the artist: for children ASSISTANT:")
    ids = provider.inputs(Image.new("RGB", (40, 30), (200, 0, 0)), instruction(None))["input_ids"][0].tolist()
    image_id = provider._processor.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    # The processor expands the one placeholder into one token per patch, right after "USER :".
    positions = [i for i, t in enumerate(ids) if t == image_id]
    assert positions == list(range(2, 2 + IMAGE_TOKENS))


def test_the_local_model_tells_a_story_deterministically(story_settings: Settings) -> None:
    provider = build_story_provider(story_settings)
    image = Image.new("RGB", (40, 30), (200, 10, 10))
    first = provider.tell(image, "short")
    # Random weights answer no JSON: the plain text still makes a story.
    assert first.story.paragraphs and first.raw
    assert first.story == provider.tell(image, "short").story
    assert first.model == str(story_settings.STORY_MODEL)
    assert first.timings["load"] > 0 and first.timings["inference"] > 0
    assert provider.tell(image, "short").timings["load"] < first.timings["load"]


def test_an_idle_model_is_unloaded_and_collected(story_settings: Settings) -> None:
    clock = [0.0]
    settings = story_settings.model_copy(update={"MODEL_IDLE_UNLOAD_S": 60.0})
    provider = TransformersStoryProvider(settings, clock=lambda: clock[0])
    provider.tell(Image.new("RGB", (32, 32)))
    model = weakref.ref(provider.model)
    clock[0] = 59.0
    assert not provider.unload_if_idle() and model() is not None
    clock[0] = 61.0
    assert provider.unload_if_idle()
    gc.collect()
    assert model() is None and provider.model is None and not provider.loaded
    # The next story loads it again.
    assert provider.tell(Image.new("RGB", (32, 32))).story.paragraphs and provider.loaded
    provider.close()  # and stops the idle timer the story armed
    assert not provider.loaded


def test_the_idle_timer_unloads_by_itself(story_settings: Settings) -> None:
    provider = TransformersStoryProvider(story_settings.model_copy(update={"MODEL_IDLE_UNLOAD_S": 0.05}))
    provider.tell(Image.new("RGB", (32, 32)))
    deadline = time.monotonic() + 10
    while provider.loaded and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not provider.loaded and provider.model is None


def test_eight_bit_is_refused_with_a_message_off_cuda(story_settings: Settings) -> None:
    provider = build_story_provider(story_settings.model_copy(update={"STORY_LOAD_IN_8BIT": True}))
    assert "STORY_LOAD_IN_8BIT needs CUDA" in (provider.configured() or "")


def test_the_default_model_fits_the_device(tmp_path: Path) -> None:
    assert default_story_model(tiny_settings(tmp_path)) == CPU_DEFAULT
    assert default_story_model(tiny_settings(tmp_path, STORY_MODEL="x/y")) == "x/y"
    with pytest.raises(ValueError, match="Unknown story provider"):
        build_story_provider(tiny_settings(tmp_path), "nope")


class _Models:
    def __init__(self, answer: Any) -> None:
        self.calls: list[dict[str, Any]] = []
        self.answer = answer

    def generate_content(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.answer


class _Response:
    prompt_feedback = None

    def __init__(self, text: str) -> None:
        self.text = text


class _Client:
    def __init__(self, answer: Any) -> None:
        self.models = _Models(answer)


def test_the_gemini_story_request_carries_the_instruction_and_the_picture(tmp_path: Path) -> None:
    answer = (
        '{"title": "Moon", "paragraphs": ["She planted it.", "It grew."], "subjects": ["astronaut"], "setting": "moon"}'
    )
    client = _Client(_Response(answer))
    provider = GeminiStoryProvider(tiny_settings(tmp_path, GEMINI_STORY_MODEL="gemini-x"), client=client)
    out = provider.tell(Image.new("RGB", (16, 16), (0, 0, 255)), "sad")
    assert out.story.title == "Moon" and out.story.subjects == ["astronaut"] and out.story.setting == "moon"
    (call,) = client.models.calls
    assert call["model"] == "gemini-x"
    assert call["config"].response_mime_type == "application/json"
    (content,) = call["contents"]
    text, picture = content.parts
    assert text.text == instruction("sad")
    assert picture.inline_data.mime_type == "image/png"
    with Image.open(io.BytesIO(picture.inline_data.data)) as img:
        assert img.size == (16, 16) and img.convert("RGB").getpixel((0, 0)) == (0, 0, 255)


def test_gemini_without_a_project_is_not_configured(tmp_path: Path) -> None:
    provider = GeminiStoryProvider(tiny_settings(tmp_path, GOOGLE_CLOUD_PROJECT=None))
    assert "GOOGLE_CLOUD_PROJECT" in (provider.configured() or "")
    with pytest.raises(WeightsUnavailableError, match="GOOGLE_CLOUD_PROJECT"):
        provider.tell(Image.new("RGB", (8, 8)))


@pytest.mark.parametrize(
    ("answer", "title", "paragraphs", "subjects", "setting"),
    [
        (
            'Sure!\n```json\n{"title": "Fox", "paragraphs": ["A fox ran.", "It slept."], "subjects": ["fox"], '
            '"setting": "forest"}\n```',
            "Fox",
            ["A fox ran.", "It slept."],
            ["fox"],
            "forest",
        ),
        (
            '{"title": "Fox", "story": "A fox ran.\\n\\nIt slept.", "characters": "fox, owl"}',
            "Fox",
            ["A fox ran.", "It slept."],
            ["fox", "owl"],
            "",
        ),
        (
            "Title: Moon\nSubjects: astronaut; flower\nSetting: red moon\n\nShe planted it.\n\nIt grew.",
            "Moon",
            ["She planted it.", "It grew."],
            ["astronaut", "flower"],
            "red moon",
        ),
        (
            "The Lost Key\n\nA girl found a key.\n\nIt opened nothing.",
            "The Lost Key",
            ["A girl found a key.", "It opened nothing."],
            [],
            "",
        ),
        ("just some words", "", ["just some words"], [], ""),
        ("", "", [], [], ""),
        ('{"title": "x"', "", ['{"title": "x"'], [], ""),
    ],
)
def test_any_answer_parses_into_a_story(
    answer: str, title: str, paragraphs: list[str], subjects: list[str], setting: str
) -> None:
    story = parse_story(answer)
    assert (story.title, story.paragraphs, story.subjects, story.setting) == (title, paragraphs, subjects, setting)


def test_a_runaway_answer_is_bounded() -> None:
    story = parse_story("\n\n".join(f"para {i}" for i in range(500)))
    assert len(story.paragraphs) == 32
