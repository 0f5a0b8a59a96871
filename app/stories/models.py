"""Story models (camelCase on the wire)."""

from __future__ import annotations

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
