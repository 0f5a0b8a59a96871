"""The story provider interface: picture (+ optional direction) → `Story`.

The public `tell()` (template method, blocking: call it from a worker thread) loads the
model once through a `BoundedLoad` (a caller waits at most MODEL_LOAD_TIMEOUT_S, a failure is
the answer for MODEL_RETRY_S), runs the backend's `_tell` under a lock, parses the answer
(app/stories/parse.py) and times each stage. A backend holding weights is unloaded after
MODEL_IDLE_UNLOAD_S without use, so one GPU can host the story and the image models in turn.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from PIL import Image

from app.generation.loading import LocalModel
from app.stories.models import Story
from app.stories.parse import parse_story

log = logging.getLogger(__name__)

# What the model is asked for; the answer is parsed whatever shape it comes in.
INSTRUCTION = (
    "Look at the picture and write a short story about it. Answer with JSON only: "
    '{"title": "...", "paragraphs": ["...", "..."], "subjects": ["the recurring characters or objects"], '
    '"setting": "where and when it happens"}.'
)


def instruction(direction: str | None) -> str:
    """The request to the model: the fixed instruction plus the caller's tone/length/audience."""
    direction = (direction or "").strip()
    return f"{INSTRUCTION}\nDirection from the artist: {direction}" if direction else INSTRUCTION


@dataclass(frozen=True)
class StoryOutput:
    story: Story
    raw: str
    model: str
    # Seconds per stage: `load` (0 when warm) and `inference`.
    timings: dict[str, float] = field(default_factory=dict)


class StoryProvider(LocalModel):
    """One story backend. Subclasses set `name`, `model_name`, `_load`, `_tell` (and `_unload`
    when they hold weights); loading and idle unloading are LocalModel's."""

    name: ClassVar[str]
    role = "story"

    def configured(self) -> str | None:
        """None when usable; otherwise what to change (checked before a job is queued)."""
        return None

    def tell(self, image: Image.Image, direction: str | None = None) -> StoryOutput:
        """A story about `image` (blocking)."""
        start = self._clock()
        with self._idle.using():
            self.load()
            loaded = self._clock()
            with self._lock:
                raw = self._tell(image.convert("RGB"), instruction(direction))
                done = self._clock()
        return StoryOutput(
            story=parse_story(raw),
            raw=raw,
            model=self.model_name,
            timings={"load": loaded - start, "inference": done - loaded},
        )

    @abstractmethod
    def _tell(self, image: Image.Image, instruction: str) -> str: ...
