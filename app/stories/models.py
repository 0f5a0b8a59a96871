"""Story models (camelCase on the wire)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.models import CamelModel

MAX_STORY_PROMPT_CHARS = 1000
MAX_PARAGRAPHS = 32
MAX_PARAGRAPH_CHARS = 4000
MAX_SUBJECTS = 16


class Story(CamelModel):
    """A story as structured fields: what the model told and what it found in the picture."""

    title: str = Field(default="", max_length=200)
    paragraphs: list[str] = Field(default_factory=list, max_length=MAX_PARAGRAPHS)
    subjects: list[str] = Field(
        default_factory=list, max_length=MAX_SUBJECTS, description="Recurring characters/objects."
    )
    setting: str = Field(default="", max_length=500, description="Where and when it happens.")

    @property
    def text(self) -> str:
        """The story as one text (title, then paragraphs)."""
        return "\n\n".join(p for p in (self.title, *self.paragraphs) if p)


class StoryRequest(CamelModel):
    """POST /stories (JSON; multipart sends the picture as the `image` file)."""

    image: str | None = Field(default=None, description="A data URL (JSON requests).")
    id: str | None = Field(default=None, max_length=200, description="A library image id.")
    prompt: str | None = Field(
        default=None, max_length=MAX_STORY_PROMPT_CHARS, description="Tone, length, audience: how to tell it."
    )
    library: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The library the story is filed under (default: DEFAULT_LIBRARY where the key may write it).",
    )


class StoryParams(CamelModel):
    """The JSON params of a `story` job."""

    image: str  # the normalised input under GENERATED_ROOT/inputs/
    prompt: str | None = None
    source_image_id: str | None = None
    library: str | None = None
    owner: str | None = None


class StoryResult(CamelModel):
    """The `result` of a succeeded `story` job."""

    story: Story
    story_id: str | None = Field(description="The story's id in the story index (null where none is wired).")
    provider: str
    model: str
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds per stage: load, inference, index.")


class StoryHit(CamelModel):
    id: str
    score: float
    story: Story
    source_image_id: str | None = None
    library: str | None = None


class StorySearchResult(CamelModel):
    query: str
    hits: list[StoryHit]


class StoryboardRequest(CamelModel):
    """POST /storyboards: a story (or the id of one in the story index) → N frames."""

    story: Story | None = Field(default=None, description="The story as structured fields.")
    story_text: str | None = Field(default=None, max_length=20_000, description="Or the story as plain text.")
    story_id: str | None = Field(default=None, max_length=64, description="Or a story from the story index.")
    frames: int = Field(default=4, ge=1, le=64, description="Frames to make (at most STORYBOARD_MAX_FRAMES).")
    retrieval: bool = Field(
        default=True, description="Ground each frame on retrieved earlier frames, generations and library images."
    )
    provider: Literal["sdxl", "imagen", "gemini"] | None = None
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1, description="Frame k gets `seed + k`.")
    width: int = Field(default=512, ge=64, le=4096)
    height: int = Field(default=512, ge=64, le=4096)
    steps: int | None = Field(default=None, ge=1)
    guidance: float | None = Field(default=None, ge=0.0, le=50.0)
    add_to_library: bool = Field(default=True, description="File every frame in the library (later stories find it).")
    library: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class FrameRef(CamelModel):
    """One reference a frame was generated with, and why (attribution)."""

    role: Literal["style", "subject"]
    weight: float
    similarity: float
    tier: Literal["storyboard", "generated", "library"]
    frame: int | None = Field(default=None, description="This storyboard's frame it came from.")
    id: str | None = Field(default=None, description="The library image id.")
    reason: str


class Frame(CamelModel):
    index: int
    beat: str
    prompt: str
    subjects: list[str]
    url: str
    id: str | None = Field(description="The frame's library image id (with addToLibrary).")
    seed: int | None
    refs: list[FrameRef]


class StoryboardProgress(CamelModel):
    """A running `storyboard` job's `progress.partial`: the frames finished so far, in order,
    as the result will give them (at most `frames` of them)."""

    frames: list[Frame]


class StoryboardResult(CamelModel):
    """The `result` of a succeeded `storyboard` job."""

    storyboard_id: str
    story_id: str | None
    story: Story
    frames: list[Frame]
    provider: str
    model: str
    timings: dict[str, float] = Field(
        default_factory=dict, description="Seconds per stage, summed over frames: load, retrieval, inference, library."
    )
