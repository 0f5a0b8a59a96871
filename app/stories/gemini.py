"""Image → story with Gemini through the google-genai client (Vertex AI, app/generation/google.py).

One call: the instruction, then the picture as an inline PNG; JSON is asked for with
`response_mime_type`, and the answer goes through the same parser as a local model's.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from app.config import Settings
from app.errors import ContentBlockedError, ProviderError
from app.generation.google import make_client, map_google_error, missing_configuration, png_bytes
from app.stories.base import StoryProvider


class GeminiStoryProvider(StoryProvider):
    name = "gemini"

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self._client = client
        super().__init__(load_timeout_s=settings.MODEL_LOAD_TIMEOUT_S, retry_s=settings.MODEL_RETRY_S)

    @property
    def model_name(self) -> str:
        return self.settings.GEMINI_STORY_MODEL

    def configured(self) -> str | None:
        return None if self._client is not None else missing_configuration(self.settings)

    def _load(self) -> None:
        if self._client is None:
            self._client = make_client(self.settings)

    def request(self, image: Image.Image, instruction: str) -> dict[str, Any]:
        """The generate_content arguments (tests capture them at the client boundary)."""
        from google.genai import types

        parts = [
            types.Part.from_text(text=instruction),
            types.Part.from_bytes(data=png_bytes(image), mime_type="image/png"),
        ]
        return {
            "model": self.model_name,
            "contents": [types.Content(role="user", parts=parts)],
            "config": types.GenerateContentConfig(
                response_mime_type="application/json",
                max_output_tokens=self.settings.STORY_MAX_TOKENS,
                candidate_count=1,
            ),
        }

    def _tell(self, image: Image.Image, instruction: str) -> str:
        try:
            response = self._client.models.generate_content(**self.request(image, instruction))
        except Exception as e:
            raise map_google_error(e, self.name, self.model_name) from e
        feedback = getattr(response, "prompt_feedback", None)
        if feedback is not None and feedback.block_reason:
            raise ContentBlockedError(f"Gemini blocked the request: {feedback.block_reason}", provider=self.name)
        text = getattr(response, "text", None)
        if not text:
            raise ProviderError(f"Gemini ({self.model_name}) returned no story.", provider=self.name)
        return str(text)
