"""Build the story provider by name (STORY_PROVIDER); nothing loads until the first story."""

from __future__ import annotations

from app.config import Settings
from app.stories.base import StoryProvider

STORY_PROVIDERS = ("transformers", "gemini")


def build_story_provider(settings: Settings, name: str | None = None) -> StoryProvider:
    name = name or settings.STORY_PROVIDER
    match name:
        case "transformers":
            from app.stories.vlm import TransformersStoryProvider

            return TransformersStoryProvider(settings)
        case "gemini":
            from app.stories.gemini import GeminiStoryProvider

            return GeminiStoryProvider(settings)
        case _:
            raise ValueError(
                f"Unknown story provider: {name!r}. Available: {list(STORY_PROVIDERS)} (set STORY_PROVIDER)."
            )
