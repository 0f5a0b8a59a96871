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
